export * from './redis-server';
export * from './provide-redis';
export * from './keys';
