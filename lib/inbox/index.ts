export * from './inbox.unit-of-work';
