/**
 * 405 for a method a path does not take, and the route label of a request: HTTP-level helpers the
 * CDS Hooks router and the other routers share (src/http imports them from here, never the reverse).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { methodNotAllowed } from './outcomes.js';

/** Route template of a request, e.g. `/cds-services/:id` (never the raw path with ids or queries). */
export function routeOf(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  if (typeof route === 'string') return `${req.baseUrl}${route}`;
  return req.baseUrl || 'unmatched';
}

/**
 * Registered with `.all()` after a path's handlers: a method none of them took is answered 405 with
 * an `Allow` header (RFC 9110 §15.5.6) and an OperationOutcome, not 404 (the path exists). A method
 * in `allowed` that reaches it (a static file not found) goes on to the 404. GET allows HEAD too.
 */
export function allowOnly(...allowed: ('GET' | 'POST')[]): RequestHandler {
  const methods = allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
  const header = methods.join(', ');
  return (req: Request, res: Response, next: NextFunction): void => {
    if (methods.includes(req.method)) {
      next();
      return;
    }
    res.setHeader('Allow', header);
    next(methodNotAllowed(req.method, routeOf(req), methods));
  };
}
