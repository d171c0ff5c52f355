// The Timeline's cached windows on a temporary SQLite file (fast tier); the tests are in history-cache-cases.ts.
import { cacheTests } from './history-cache-cases.js';

cacheTests('sqlite');
