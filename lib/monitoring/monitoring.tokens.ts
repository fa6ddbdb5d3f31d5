/** DI token of the resolved `monitoring` options (`ResolvedMonitoringOptions`). */
export const MESSAGING_MONITORING_OPTIONS = Symbol('nestjs-messaging:monitoring-options');
