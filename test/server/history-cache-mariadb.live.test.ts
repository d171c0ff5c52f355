// The Timeline's cached windows on the shared MariaDB (live tier); the tests are in history-cache-cases.ts.
import { cacheTests } from './history-cache-cases.js';

cacheTests('mariadb');
