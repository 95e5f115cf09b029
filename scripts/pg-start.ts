// Starts a throwaway PostgreSQL cluster that outlives this process; prints an export line.
import { startPostgres } from '../test/support/postgres.js';

const pg = await startPostgres();
console.log(`export OUTPOST_TEST_PG_URL=${pg.url}`);
console.error(`PostgreSQL is running; stop it with: pkill -f 'postgres -D /tmp/outpost-pg-'`);
