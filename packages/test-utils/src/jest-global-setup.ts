import { provideRedis, type ProvidedRedis } from './provide-redis';

declare global {
  // eslint-disable-next-line no-var
  var providedRedis: ProvidedRedis | undefined;
}

export default async function globalSetup(): Promise<void> {
  const redis = await provideRedis();
  globalThis.providedRedis = redis;
  // Workers are forked after global setup, so they inherit this.
  process.env.TEST_REDIS_URL = redis.url;
}
