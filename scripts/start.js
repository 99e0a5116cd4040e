#!/usr/bin/env node
// Starts the whole pipeline locally: a private redis-server on a free port (unless REDIS_URL is set),
// then the ingest-api, the worker and the query-api from their builds. Ctrl-C stops everything.
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { SERVICE_NODE_OPTIONS } = require(path.join(root, 'packages/service-kit/dist'));
const services = [
  { name: 'ingest-api', portVariable: 'INGEST_API_PORT', port: '8080', routes: ['POST /api/ingest/events'] },
  { name: 'worker', portVariable: 'WORKER_ADMIN_PORT', port: '8082', routes: ['POST /api/ingest/workers/process'] },
  {
    name: 'query-api',
    portVariable: 'QUERY_API_PORT',
    port: '8081',
    routes: ['GET /', 'GET /api/ingest/summary', 'GET /api/ingest/events/recent'],
  },
];

async function main() {
  let stopping = false;
  let redis;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const { startRedisServer } = require(path.join(root, 'packages/test-utils/dist'));
    redis = await startRedisServer({ args: ['--appendonly', 'yes'] });
    redisUrl = redis.url;
  }
  const children = services.map((service) => {
    const env = {
      NODE_OPTIONS: SERVICE_NODE_OPTIONS,
      ...process.env,
      REDIS_URL: redisUrl,
      [service.portVariable]: process.env[service.portVariable] ?? service.port,
    };
    const child = spawn(process.execPath, [path.join(root, 'apps', service.name, 'dist/main.js')], {
      env,
      stdio: 'inherit',
    });
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`${service.name} exited (${signal ?? code}); stopping the rest`);
        stop(1);
      }
    });
    return child;
  });

  console.log(
    `\nredis-ingest is running against ${redisUrl}${redis ? ' (a private redis-server; its data goes when this stops)' : ''}`,
  );
  for (const service of services) {
    const port = process.env[service.portVariable] ?? service.port;
    for (const route of service.routes)
      console.log(`  ${service.name.padEnd(10)} ${route.padEnd(36)} http://localhost:${port}${route.split(' ')[1]}`);
  }
  console.log('Press Ctrl-C to stop.\n');

  async function stop(code) {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
    await redis?.stop();
    process.exit(code);
  }
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
