// The trace sink on the shared MariaDB (live tier); the tests are in trace-sink-cases.ts.
import { reusedPidTests } from './trace-sink-cases.js';

reusedPidTests('mariadb');
