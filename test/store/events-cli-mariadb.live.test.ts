// `memlens events` on the shared MariaDB (live tier); the tests are in events-cli-cases.ts.
import { eventsCliTests } from './events-cli-cases.js';

eventsCliTests('mariadb');
