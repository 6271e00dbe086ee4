/**
 * When a call is over for the service: its response sent, or its client gone. Both the response's
 * `close` and its connection's are needed: a pipelined response still queued behind an earlier one
 * on its connection is never sent nor closed when the client leaves, and its connection's closing
 * is the only sign. A call may also be over before anything here is registered (a client that left
 * during client authentication): then it runs at once.
 *
 * One pair of listeners per call, whatever the number of things to run: this is on the path of
 * every call.
 */
import type { Request, Response } from 'express';

const atEnd = new WeakMap<Response, (() => void)[]>();

/** Whether the call's client is gone: its response closed, or its connection. */
export function clientGone(req: Request, res: Response): boolean {
  return res.closed || req.socket.destroyed;
}

/** Runs `done` once, when the call's response has closed or its connection has; returns a canceller. */
export function onCallEnd(req: Request, res: Response, done: () => void): () => void {
  if (clientGone(req, res)) {
    done();
    return () => undefined;
  }
  let pending = atEnd.get(res);
  if (!pending) {
    const list: (() => void)[] = [];
    pending = list;
    atEnd.set(res, list);
    const { socket } = req;
    const end = (): void => {
      res.off('close', end);
      socket.off('close', end);
      for (const run of list.splice(0)) run();
    };
    res.once('close', end);
    socket.once('close', end);
  }
  const list = pending;
  list.push(done);
  return () => {
    const at = list.indexOf(done);
    if (at >= 0) list.splice(at, 1);
  };
}
