// The /proc history on a temporary SQLite file (fast tier); the tests are in history-cases.ts.
import { historyTests } from './history-cases.js';

historyTests('sqlite');
