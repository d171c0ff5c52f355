// The event store on a temporary SQLite file (fast tier). The tests are in store-cases.ts; the same
// run on MariaDB in store-mariadb.live.test.ts.
import {
  longRepackTests,
  packedBlockTests,
  schemaFiveTests,
  schemaOneTests,
  schemaVersionTests,
  storeTests,
} from './store-cases.js';

schemaVersionTests();
storeTests('sqlite');
schemaOneTests('sqlite');
schemaFiveTests('sqlite');
longRepackTests();
packedBlockTests('sqlite');
