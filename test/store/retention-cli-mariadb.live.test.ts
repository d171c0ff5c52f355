// events --prune on the shared MariaDB (live tier); the test is in retention-cli-cases.ts.
import { retentionCliTests } from './retention-cli-cases.js';

retentionCliTests('mariadb');
