import { provideRedis, type ProvidedRedis } from './provide-redis';

declare global {
  var providedRedis: ProvidedRedis | undefined;
}

export default async function globalSetup(): Promise<void> {
  const redis = await provideRedis();
  globalThis.providedRedis = redis;
  // Workers are forked after global setup, so they inherit this.
  process.env.TEST_REDIS_URL = redis.url;
}
