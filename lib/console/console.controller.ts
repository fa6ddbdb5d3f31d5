import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  Header,
  HttpCode,
  HttpException,
  HttpStatus,
  InternalServerErrorException,
  NotFoundException,
  ServiceUnavailableException,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
  type CanActivate,
  type Type,
} from '@nestjs/common';
import { MessagingError } from '../errors/messaging.error';
import { DeadLetterStoreBusyError } from '../transport/rabbitmq/errors/dead-letter-store-busy.error';
import { DeadLetterReplayError } from '../transport/rabbitmq/errors/dead-letter-replay.error';
import { MAX_DRY_RUN_SAMPLE } from './console-options.validator';
import {
  DeadLetterNotFoundError,
  DryRunUnavailableError,
  FailureGroupNotFoundError,
  PurgeTokenMismatchError,
} from '../errors/operations.errors';
import type { MessagingSnapshot } from '../monitoring/messaging-snapshot.interface';
import type { DryRunResult, FailureGroup, Journey } from './console-api.interface';
import { ConsoleAccessGuard, consoleActor, type ConsoleRequest } from './console-access.guard';
import { MessagingConsoleService } from './console.service';
import { CONSOLE_CONTENT_SECURITY_POLICY, renderConsolePage } from './console-page';

const MAX_ID = 200;

/** Response headers of `GET api/groups`: how many dead letters the groups were built from, and whether the queue held more. */
export const SCANNED_HEADER = 'X-Dead-Letters-Scanned';
export const TRUNCATED_HEADER = 'X-Dead-Letters-Truncated';

/** The part of the platform's response the groups route uses (Express and Fastify both have it). */
interface HeaderResponse {
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
}

/** The routes of the console under `path`, guarded by the app's `guard` (when given) on every route. */
export function createConsoleController(path: string, guard?: Type<CanActivate> | CanActivate): Type {
  const guards = guard ? [guard] : [];

  @Controller(path)
  @UseGuards(...guards)
  class MessagingConsoleController {
    private page?: string;

    constructor(private readonly console: MessagingConsoleService) {}

    /** The page (static: it loads its data from the API below). */
    @Get()
    @Header('Content-Type', 'text/html; charset=utf-8')
    @Header('Content-Security-Policy', CONSOLE_CONTENT_SECURITY_POLICY)
    @Header('Cache-Control', 'no-store')
    @Header('X-Content-Type-Options', 'nosniff')
    @Header('X-Frame-Options', 'DENY')
    @Header('Referrer-Policy', 'no-referrer')
    html(): string {
      this.page ??= renderConsolePage(this.console.options);
      return this.page;
    }

    @Get('api/overview')
    @UseGuards(ConsoleAccessGuard)
    @Header('Cache-Control', 'no-store')
    overview(): Promise<MessagingSnapshot> {
      return http(() => this.console.overview());
    }

    @Get('api/groups')
    @UseGuards(ConsoleAccessGuard)
    @Header('Cache-Control', 'no-store')
    async groups(
      @Query('subscriber') subscriber: unknown,
      @Res({ passthrough: true }) res: HeaderResponse,
    ): Promise<FailureGroup[]> {
      const filter = subscriber === undefined || subscriber === '' ? undefined : text(subscriber, 'subscriber');
      const scan = await http(() => this.console.groupScan(filter));
      // the body stays the array it always was; the scan's extent travels in headers
      for (const [name, value] of [
        [SCANNED_HEADER, String(scan.scanned)],
        [TRUNCATED_HEADER, String(scan.truncated)],
      ]) {
        if (res.setHeader) res.setHeader(name, value);
        else res.header?.(name, value);
      }
      return scan.groups;
    }

    @Get('api/groups/:id')
    @UseGuards(ConsoleAccessGuard)
    @Header('Cache-Control', 'no-store')
    async group(@Param('id') id: string): Promise<{ group: FailureGroup; purgeToken?: string }> {
      const found = await http(() => this.console.group(text(id, 'id')));
      if (!found) throw new NotFoundException(`no failure group with id ${JSON.stringify(id)}`);
      return found;
    }

    @Post('api/groups/:id/retry')
    @HttpCode(HttpStatus.OK)
    @UseGuards(ConsoleAccessGuard)
    async retryGroup(@Param('id') id: string, @Req() req: ConsoleRequest): Promise<{ retried: number }> {
      const actor = consoleActor(req, this.console.options);
      return { retried: await http(() => this.console.retryGroup(text(id, 'id'), actor)) };
    }

    @Post('api/groups/:id/dry-run')
    @HttpCode(HttpStatus.OK)
    @UseGuards(ConsoleAccessGuard)
    async dryRunGroup(
      @Param('id') id: string,
      @Body() body: { sample?: unknown } | undefined,
      @Req() req: ConsoleRequest,
    ): Promise<{ results: DryRunResult[] }> {
      const actor = consoleActor(req, this.console.options);
      const sample = body?.sample === undefined ? undefined : integer(body.sample, 'sample', 1, MAX_DRY_RUN_SAMPLE);
      return { results: await http(() => this.console.dryRunGroup(text(id, 'id'), actor, sample)) };
    }

    @Post('api/groups/:id/purge')
    @HttpCode(HttpStatus.OK)
    @UseGuards(ConsoleAccessGuard)
    async purgeGroup(
      @Param('id') id: string,
      @Body() body: { token?: unknown } | undefined,
      @Req() req: ConsoleRequest,
    ): Promise<{ purged: number }> {
      const actor = consoleActor(req, this.console.options);
      const token = text(body?.token, 'token (the group purge token, read with the group)');
      return { purged: await http(() => this.console.purgeGroup(text(id, 'id'), token, actor)) };
    }

    @Post('api/dead-letters/:id/retry')
    @HttpCode(HttpStatus.OK)
    @UseGuards(ConsoleAccessGuard)
    async retryOne(@Param('id') id: string, @Req() req: ConsoleRequest): Promise<{ retried: number }> {
      const actor = consoleActor(req, this.console.options);
      const retried = await http(() => this.console.retryOne(text(id, 'id'), actor));
      if (retried === 0)
        throw new NotFoundException(`no dead letter with id ${JSON.stringify(id)} (already retried or purged?)`);
      return { retried };
    }

    @Post('api/dead-letters/:id/dry-run')
    @HttpCode(HttpStatus.OK)
    @UseGuards(ConsoleAccessGuard)
    async dryRunOne(@Param('id') id: string, @Req() req: ConsoleRequest): Promise<{ results: DryRunResult[] }> {
      const actor = consoleActor(req, this.console.options);
      return { results: [await http(() => this.console.dryRunOne(text(id, 'id'), actor))] };
    }

    @Get('api/journey')
    @UseGuards(ConsoleAccessGuard)
    @Header('Cache-Control', 'no-store')
    journey(@Query('id') id?: unknown): Promise<Journey> {
      return http(() => this.console.journey(text(id, 'id (a correlation id or a message id)')));
    }
  }

  return MessagingConsoleController;
}

/** Runs a back-end call, turning its typed errors into HTTP answers the page shows as they are. */
async function http<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof HttpException) throw err;
    if (err instanceof FailureGroupNotFoundError || err instanceof DeadLetterNotFoundError) {
      throw new NotFoundException(err.message);
    }
    if (err instanceof PurgeTokenMismatchError) throw new ConflictException(err.message);
    // another replay or purge holds the dead-letter queue: try again shortly
    if (err instanceof DeadLetterStoreBusyError) throw new ServiceUnavailableException(err.message);
    // some were sent, some stay: the message says how many of each
    if (err instanceof DeadLetterReplayError) throw new InternalServerErrorException(err.message);
    if (err instanceof DryRunUnavailableError) throw new HttpException(err.message, HttpStatus.NOT_IMPLEMENTED);
    if (err instanceof MessagingError) throw new BadRequestException(err.message);
    // an operator needs the reason (broker down, database unreachable), the page shows it as text
    throw new InternalServerErrorException(err instanceof Error ? err.message : String(err));
  }
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID) {
    throw new BadRequestException(`${name} must be a string of 1 to ${MAX_ID} characters`);
  }
  return value;
}

function integer(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BadRequestException(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}
