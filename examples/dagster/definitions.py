"""Outpost's own Dagster example location: plain Dagster code, nothing Outpost-specific.

It exercises what Outpost hosts: op jobs with config, a failing op, a slow op (for termination),
two assets where one reads the other, an asset job, a schedule, a cursor sensor and
partitioned jobs of every partition kind. It runs unchanged on dagster 1.9 to 1.13.
"""

import time

from dagster import (
    AssetSelection,
    DailyPartitionsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    Enum,
    EnumValue,
    Failure,
    Field,
    Map,
    MultiPartitionsDefinition,
    Noneable,
    OpExecutionContext,
    Permissive,
    RunRequest,
    ScheduleDefinition,
    Selector,
    SensorEvaluationContext,
    SkipReason,
    StaticPartitionsDefinition,
    asset,
    build_schedule_from_partitioned_job,
    define_asset_job,
    job,
    op,
    sensor,
)


@op(
    config_schema={"name": Field(str, default_value="outpost", description="Who to greet.")},
    tags={"kind": "greeting"},
    description="Says hello to the configured name.",
)
def greet(context: OpExecutionContext) -> str:
    name = context.op_config["name"]
    # A plain print is user output (the run's stdout), not a Dagster event.
    print(f"greet printed {name}")
    context.log.info(f"hello {name}")
    return name


@op(
    config_schema={
        "times": Field(int, default_value=1),
        "style": Field(
            Enum("Style", [EnumValue("LOUD"), EnumValue("QUIET")]), default_value="LOUD"
        ),
        "suffixes": Field([str], is_required=False),
        "limit": Field(Noneable(int), is_required=False),
        "extra": Field(Permissive(), is_required=False),
        "source": Field(Selector({"literal": str, "env": str}), is_required=False),
        "weights": Field(Map(str, float), is_required=False),
    }
)
def shout(context: OpExecutionContext, who: str) -> str:
    cfg = context.op_config
    text = who.upper() if cfg["style"] == "LOUD" else who.lower()
    line = " ".join([text] * cfg["times"]) + "".join(cfg.get("suffixes") or [])
    context.log.info(line)
    return line


@job(description="Two ops in a line", tags={"team": "data"})
def greeting_job() -> None:
    shout(greet())


@op
def fail_on_purpose() -> None:
    print("about to fail on purpose")
    raise Failure(description="intentional failure")


@job(description="Its only op always fails")
def failing_job() -> None:
    fail_on_purpose()


@op(config_schema={"seconds": Field(float, default_value=60.0)})
def sleep_a_while(context: OpExecutionContext) -> None:
    end = time.monotonic() + context.op_config["seconds"]
    while time.monotonic() < end:
        context.log.info("still sleeping")
        time.sleep(1.0)


@job(description="Sleeps, so that it can be terminated mid-step")
def slow_job() -> None:
    sleep_a_while()


@asset(group_name="numbers", description="A few raw numbers.")
def raw_numbers() -> list:
    return [1, 2, 3]


@asset(group_name="numbers", description="The raw numbers doubled.")
def doubled_numbers(raw_numbers: list) -> list:
    return [n * 2 for n in raw_numbers]


numbers_job = define_asset_job(
    "numbers_job", selection=AssetSelection.groups("numbers"), description="Materializes the numbers."
)


@op
def paint(context: OpExecutionContext) -> None:
    context.log.info(f"painting {context.partition_key}")


@job(partitions_def=StaticPartitionsDefinition(["red", "green", "blue"]))
def paint_job() -> None:
    paint()


@job(partitions_def=DailyPartitionsDefinition(start_date="2026-11-01"))
def daily_job() -> None:
    paint()


@job(
    partitions_def=MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition(start_date="2026-11-01"),
            "color": StaticPartitionsDefinition(["red", "blue"]),
        }
    )
)
def multi_job() -> None:
    paint()


@job(partitions_def=DynamicPartitionsDefinition(name="customers"))
def customer_job() -> None:
    paint()


@sensor(job=greeting_job, minimum_interval_seconds=45, description="One run per tick, cursor counts.")
def every_tick(context: SensorEvaluationContext):
    cursor = context.cursor or "0"
    if not cursor.isdigit():
        # The cursor is left as it was: the reply echoes it.
        return SkipReason(f"nothing new since {cursor}")
    n = int(cursor) + 1
    context.update_cursor(str(n))
    return RunRequest(run_key=f"tick-{n}", run_config={"ops": {"greet": {"config": {"name": f"tick {n}"}}}})


defs = Definitions(
    assets=[raw_numbers, doubled_numbers],
    jobs=[greeting_job, failing_job, slow_job, numbers_job, paint_job, daily_job, multi_job, customer_job],
    schedules=[
        ScheduleDefinition(job=greeting_job, cron_schedule="0 2 * * *", execution_timezone="UTC"),
        build_schedule_from_partitioned_job(daily_job),
    ],
    sensors=[every_tick],
)
