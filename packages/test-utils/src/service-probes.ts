import { startRequestInFlight } from './request-in-flight';

export interface StoppableService {
  readonly port: number;
  stop(): Promise<void>;
}

/** The request id a service echoes when given a usable one, and the one it makes up in place of an unusable one. */
export async function requestIdsEchoed(port: number): Promise<{ given: string | null; madeUp: string | null }> {
  const echoed = async (id: string) =>
    (await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { 'x-request-id': id } })).headers.get('x-request-id');
  return { given: await echoed('trace-42'), madeUp: await echoed('bad\tid') };
}

/**
 * Stops `service` while a POST to `path` is still sending its body, and reports what /readyz
 * answered before and during the stop, what /healthz answered during it, and the raw reply the
 * request got once its body arrived.
 */
export async function stopWithRequestInFlight(service: StoppableService, path: string, body: unknown) {
  const probe = (path: string) => fetch(`http://127.0.0.1:${service.port}${path}`);
  const readyBefore = (await probe('/readyz')).status;
  const request = await startRequestInFlight(service.port, path, body);
  const stopped = service.stop();
  const whileStopping = await probe('/readyz');
  const readyWhileStopping = { status: whileStopping.status, body: await whileStopping.json() };
  const healthWhileStopping = (await probe('/healthz')).status;
  const reply = await request.finish();
  await stopped;
  return { readyBefore, readyWhileStopping, healthWhileStopping, reply };
}

/** What a refusal carried: its status, whether its body is JSON, and whether that body names the error. */
export async function refusalOf(response: Response): Promise<{ status: number; json: boolean; namesError: boolean }> {
  const json = /^application\/json/.test(response.headers.get('content-type') ?? '');
  const body = (await response.json()) as { error?: unknown };
  return { status: response.status, json, namesError: typeof body.error === 'string' };
}
