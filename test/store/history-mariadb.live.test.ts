// The /proc history on the shared MariaDB (live tier); the tests are in history-cases.ts.
import { historyTests } from './history-cases.js';

historyTests('mariadb');
