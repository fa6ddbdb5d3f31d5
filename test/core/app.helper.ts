import { Test, type TestingModule } from '@nestjs/testing';
import type { ModuleMetadata, Provider } from '@nestjs/common';
import { MessagingModule, type MessagingModuleOptions } from '../../lib';

/** Builds and starts a Nest application context with the messaging module and `providers`. */
export async function startApp(
  providers: Provider[],
  options: Partial<MessagingModuleOptions> = {},
  imports: ModuleMetadata['imports'] = [],
): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [MessagingModule.forRoot({ serviceName: 'test', ...options }), ...(imports ?? [])],
    providers,
  })
    .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {}, fatal() {} })
    .compile();
  await moduleRef.init();
  return moduleRef;
}

export { waitFor } from '../contract/transport-contract';
