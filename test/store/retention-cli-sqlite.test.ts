// events --prune on a temporary SQLite file (fast tier); the test is in retention-cli-cases.ts.
import { retentionCliTests } from './retention-cli-cases.js';

retentionCliTests('sqlite');
