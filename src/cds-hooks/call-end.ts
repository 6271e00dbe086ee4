/**
 * When a call is over for the service: its response sent, or its client gone. Both are needed:
 * `stream.finished` fires for a response already closed (a client that left during client
 * authentication), but not for a pipelined response still queued behind an earlier one on its
 * connection, whose only sign of a client gone is its socket closing.
 */
import type { Request, Response } from 'express';
import { finished } from 'node:stream';

/** Runs `done` once, when the call's response has ended or its connection has closed; returns a canceller. */
export function onCallEnd(req: Request, res: Response, done: () => void): () => void {
  const { socket } = req;
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    cancel();
    done();
  };
  const stop = finished(res, once);
  socket.once('close', once);
  const cancel = (): void => {
    stop();
    socket.off('close', once);
  };
  if (socket.destroyed) once();
  return cancel;
}

/** Whether the call's client is gone: its response closed, or its connection. */
export function clientGone(req: Request, res: Response): boolean {
  return res.closed || req.socket.destroyed;
}
