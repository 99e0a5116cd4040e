export * from './redis-server';
export * from './provide-redis';
export * from './keys';
export * from './redis-command';
export * from './redis-cluster';
export * from './request-in-flight';
export * from './service-probes';
export * from './redis-snapshot';
