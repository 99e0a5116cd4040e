export * from './logger';
export * from './http';
export * from './process';
export * from './cluster';
export * from './openapi';
export * from './openapi-schemas';
