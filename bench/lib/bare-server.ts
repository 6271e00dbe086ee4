/** The bare-parse floor: node:http, read the body, JSON.parse it, answer one constant card. */
import { createServer } from 'node:http';

const CARD = JSON.stringify({ cards: [{ summary: 'bare', indicator: 'info', source: { label: 'bare' } }] });
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST') JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'content-type': 'application/json' }).end(CARD);
  });
}).listen(Number(process.env['PORT']), '127.0.0.1');
