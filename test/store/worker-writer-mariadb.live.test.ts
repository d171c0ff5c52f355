// WorkerWriter on the shared MariaDB (live tier); the tests are in worker-writer-cases.ts.
import { workerWriterTests } from './worker-writer-cases.js';

workerWriterTests('mariadb');
