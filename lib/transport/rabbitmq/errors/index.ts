export * from './broker-connection.error';
export * from './publish-timeout.error';
export * from './unroutable-message.error';
export * from './topology-mismatch.error';
export * from './dead-letter-store-busy.error';
export * from './dead-letter-replay.error';
export * from './transport-not-connected.error';
export * from './headers-too-large.error';
