// One CodeLocationPort over both kinds of location: each call goes to the Outpost-SDK port or to
// the Dagster one (dagster/dagster-code-location.ts) by the location's spec, with the one rule
// for a location's kind (codeLocationKind). Structurally the port activities declare; the
// composition root builds it from the two and hands it to the activities.
import { codeLocationKind, type CodeLocationSpec } from '../shared/work-items.js';
import type { WorkItemPayload, WorkItemResult } from '../shared/work-items.js';
import type { CodeLocationCalls } from '../shared/code-location-calls.js';

export interface LocationSpecs {
  refresh(): Promise<void>;
  spec(location: string): CodeLocationSpec | undefined;
}

export class CodeLocationRouter implements CodeLocationCalls {
  constructor(
    private readonly specs: LocationSpecs,
    private readonly ports: { outpost: CodeLocationCalls; dagster: CodeLocationCalls },
  ) {}

  async sync(p: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>> {
    // A new version may change the kind: read the workspace first.
    await this.specs.refresh();
    return (await this.port(p.location)).sync(p);
  }

  async evaluateSchedule(p: WorkItemPayload<'EVALUATE_SCHEDULE'>): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>> {
    return (await this.port(p.location)).evaluateSchedule(p);
  }

  async evaluateSensor(p: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>> {
    return (await this.port(p.location)).evaluateSensor(p);
  }

  async query(p: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>> {
    return (await this.port(p.location)).query(p);
  }

  /** An unknown location goes to the Outpost port, which answers UNKNOWN_LOCATION as today. */
  private async port(location: string): Promise<CodeLocationCalls> {
    let spec = this.specs.spec(location);
    if (!spec) {
      await this.specs.refresh();
      spec = this.specs.spec(location);
    }
    return spec && codeLocationKind(spec) === 'DAGSTER' ? this.ports.dagster : this.ports.outpost;
  }
}
