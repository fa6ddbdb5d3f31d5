import { randomBytes } from 'node:crypto';
import { Test, type TestingModule } from '@nestjs/testing';
import type { ModuleMetadata, Provider, Type } from '@nestjs/common';
import { MessagingModule, resolveMessagingOptions, type MessagingModuleOptions } from '../../lib';
import { MessagingMonitor } from '../../lib/monitoring/messaging-monitor.service';
import { MESSAGING_MONITORING_OPTIONS } from '../../lib/monitoring/monitoring.tokens';
import { MONITORING_SERVICES } from '../../lib/monitoring/monitoring.providers';
import { resolveMonitoringOptions } from '../../lib/monitoring/monitoring-options.validator';
import type { MonitoringOptions } from '../../lib/monitoring/monitoring-options.interface';

/** Whether `MessagingModule` already provides the monitoring services (core patch applied). */
export function coreProvidesMonitoring(): boolean {
  const providers = (Reflect.getMetadata('providers', MessagingModule) ?? []) as unknown[];
  return providers.includes(MessagingMonitor);
}

/** Whether the module accepts the `monitoring` option (core patch applied). */
export function coreAcceptsMonitoringOption(): boolean {
  try {
    resolveMessagingOptions({ serviceName: 'probe', monitoring: {} } as MessagingModuleOptions);
    return true;
  } catch {
    return false;
  }
}

/** Module options plus `monitoring`, whether or not the core knows that option yet. */
export type MonitoredOptions = Partial<MessagingModuleOptions> & { monitoring?: MonitoringOptions };

/** A unique service name for a test. */
export function uniqueService(prefix = 'mon'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

const SILENT = { log() {}, error() {}, warn() {}, debug() {}, verbose() {}, fatal() {} };

/**
 * Compiles a testing module with the messaging module and the monitoring services. Before the
 * core patch, the services and their options are provided next to the module and dead letters
 * reach the monitor through `onDeadLetter`; after it, the module provides everything itself.
 */
export async function compileMonitoredModule(
  providers: Provider[],
  options: MonitoredOptions = {},
  imports: ModuleMetadata['imports'] = [],
  controllers: Type[] = [],
): Promise<TestingModule> {
  const { monitoring, ...rest } = options;
  const extra: Provider[] = [];
  let moduleOptions: MessagingModuleOptions = { serviceName: uniqueService(), ...rest } as MessagingModuleOptions;
  let monitorRef: { get?: () => MessagingMonitor } = {};
  if (coreAcceptsMonitoringOption()) {
    moduleOptions = { ...moduleOptions, monitoring } as MessagingModuleOptions;
  } else {
    extra.push({ provide: MESSAGING_MONITORING_OPTIONS, useValue: resolveMonitoringOptions(monitoring) });
  }
  if (!coreProvidesMonitoring()) {
    extra.push(...MONITORING_SERVICES);
    const userHook = rest.onDeadLetter;
    moduleOptions.onDeadLetter = (dl) => {
      monitorRef.get?.().notifyDeadLetter(dl);
      return userHook?.(dl);
    };
  }
  const moduleRef = await Test.createTestingModule({
    imports: [MessagingModule.forRoot(moduleOptions), ...(imports ?? [])],
    providers: [...providers, ...extra],
    controllers,
  })
    .setLogger(SILENT)
    .compile();
  monitorRef = { get: () => moduleRef.get(MessagingMonitor) };
  return moduleRef;
}

export { waitFor as waitUntil } from '../setup/wait';
