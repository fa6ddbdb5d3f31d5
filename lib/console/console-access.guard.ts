import { timingSafeEqual } from 'node:crypto';
import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { MESSAGING_CONSOLE_OPTIONS } from './console.tokens';
import type { ResolvedConsoleOptions } from './console-options.interface';
import { digestToken } from './console-options.validator';
import { oneLine } from '../operations/operator-log';

/** The header the page sends the console token in. */
export const CONSOLE_TOKEN_HEADER = 'x-messaging-console-token';
/** The header every API call must carry (a cross-site form or image cannot set it). */
export const CONSOLE_REQUEST_HEADER = 'x-messaging-console';

/** The request surface read (Express and Fastify requests both have it). */
export interface ConsoleRequest {
  method?: string;
  headers?: Record<string, string | string[] | undefined>;
  user?: unknown;
}

/** Requests the token authenticated (the actor is then `token` unless a guard named a user). */
const byToken = new WeakSet<object>();

/**
 * Guards the console's JSON API: checks the token (when configured) in constant time, asks every
 * call for the `X-Messaging-Console` header and refuses calls a browser marks as cross-site, so a
 * page on another site cannot make an operator's browser read, retry or purge with its cookies,
 * whatever the app's CORS settings. The app's own guard (option `guard`) runs before it, on the
 * page too.
 */
@Injectable()
export class ConsoleAccessGuard implements CanActivate {
  constructor(@Inject(MESSAGING_CONSOLE_OPTIONS) private readonly options: ResolvedConsoleOptions) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ConsoleRequest>();
    const expected = this.options.tokenDigest;
    if (expected) {
      const given = header(request, CONSOLE_TOKEN_HEADER);
      if (given === undefined || given === '') {
        throw new UnauthorizedException(
          tokenRefusal(401, `the console token is missing (send it in the ${CONSOLE_TOKEN_HEADER} header)`),
        );
      }
      // digests have one length: the comparison takes the same time whatever was sent
      if (!timingSafeEqual(digestToken(given), expected)) {
        throw new ForbiddenException(tokenRefusal(403, 'the console token is wrong'));
      }
      byToken.add(request);
    }
    // every API call, reads included (they carry dead-letter bodies and purge tokens, and a read of
    // the dead-letter queue is work): a cross-site <img> or form cannot set a custom header
    if (header(request, CONSOLE_REQUEST_HEADER) === undefined) {
      throw new ForbiddenException(`console API calls need the ${CONSOLE_REQUEST_HEADER} header`);
    }
    // and a cross-site script cannot get one through either, even where the app's CORS setting
    // (origin: true with credentials, say) would let it send the header with the operator's cookies
    const crossSite = crossSiteReason(request);
    if (crossSite !== undefined)
      throw new ForbiddenException(`console API calls from another site are refused (${crossSite})`);
    return true;
  }
}

/**
 * Why a request comes from another site, or undefined: the browser's `Sec-Fetch-Site` when it
 * sends one (anything but `same-origin`), else an `Origin` whose host is not the request's own
 * (`X-Forwarded-Host` when a proxy set it, else `Host`). A request with neither (curl, a script)
 * is not a browser's cross-site request.
 */
export function crossSiteReason(request: ConsoleRequest): string | undefined {
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' ? undefined : `Sec-Fetch-Site: ${clean(site)}`;
  const origin = header(request, 'origin');
  if (origin === undefined || origin === '') return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return 'a malformed Origin';
  }
  const own = (header(request, 'x-forwarded-host') ?? header(request, 'host') ?? '').split(',')[0].trim().toLowerCase();
  return originHost === own ? undefined : `Origin ${clean(origin)}`;
}

/**
 * Who acts: `options.actor(request)` when given, else the guard's `request.user` (a string, or its
 * `username`, `name`, `email`, `id` or `sub`), else `token` when the token authenticated, else
 * `anonymous`. Control characters are removed and the length bounded (it goes into logs).
 */
export function consoleActor(request: ConsoleRequest, options: Pick<ResolvedConsoleOptions, 'actor'>): string {
  const named = options.actor ? options.actor(request) : userName(request.user);
  const actor = typeof named === 'string' ? clean(named) : '';
  if (actor) return actor;
  return byToken.has(request) ? 'token' : 'anonymous';
}

function userName(user: unknown): string | undefined {
  if (typeof user === 'string') return user;
  if (typeof user !== 'object' || user === null) return undefined;
  for (const key of ['username', 'name', 'email', 'id', 'sub'] as const) {
    if (!Object.prototype.hasOwnProperty.call(user, key)) continue;
    const value = (user as Record<string, unknown>)[key];
    if (typeof value === 'string' || typeof value === 'number') return String(value);
  }
  return undefined;
}

/** Without control characters (no forged log lines), at most 120 characters. */
export function clean(text: string): string {
  return oneLine(text, 120);
}

/** The body of a refusal by the token (`reason` tells the page to ask for the token, not the app's guard). */
function tokenRefusal(statusCode: 401 | 403, message: string): object {
  return { statusCode, error: statusCode === 401 ? 'Unauthorized' : 'Forbidden', message, reason: 'console-token' };
}

function header(request: ConsoleRequest, name: string): string | undefined {
  const value = request.headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}
