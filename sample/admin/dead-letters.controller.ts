import { Controller, Delete, Get, Post, Query } from '@nestjs/common';
import { DeadLetterService, type DeadLetter } from '../../lib';

/** Operator endpoints: see, replay and purge dead letters. */
@Controller('dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLetterService) {}

  @Get()
  list(@Query('subscriber') subscriber?: string): Promise<DeadLetter[]> {
    return this.deadLetters.list({ subscriber });
  }

  @Post('replay')
  async replay(@Query('subscriber') subscriber?: string, @Query('id') id?: string): Promise<{ replayed: number }> {
    return { replayed: await this.deadLetters.replay({ subscriber, ids: id ? [id] : undefined }) };
  }

  @Delete()
  async purge(@Query('subscriber') subscriber?: string): Promise<{ purged: number }> {
    return { purged: await this.deadLetters.purge({ subscriber }) };
  }
}
