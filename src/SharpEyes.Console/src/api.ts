// The gateway's JSON API (gRPC JSON transcoding under /api/v1, docs/http-api.md) as the page calls it: with the
// session cookie the browser adds by itself, the CSRF token on every request that changes something, and errors as
// google.rpc.Status ({code, message}) turned into ApiError. A 401 tells the session module to ask for a key again.
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

let csrf: { header: string; token: string } | undefined;
let onUnauthenticated: (error: ApiError) => void = () => {};

/** Set by the session module after signing in (and after every GET /api/session). */
export function useCsrf(header: string, token: string) {
  csrf = { header, token };
}

export function onSignedOut(handler: (error: ApiError) => void) {
  onUnauthenticated = handler;
}

type Query = Record<string, string | number | boolean | undefined | null>;

export function url(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      params.set(name, String(value));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function send<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && csrf) {
    headers[csrf.header] = csrf.token;
  }
  const response = await fetch(url(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await response.text();
  if (!response.ok) {
    let code = 0;
    let message = `${response.status} ${response.statusText}`;
    try {
      const status = JSON.parse(text) as { code?: number; message?: string };
      code = status.code ?? 0;
      message = status.message ?? message;
    } catch {
      // not JSON: keep the HTTP status line
    }
    const error = new ApiError(response.status, code, message);
    if (response.status === 401 && !path.startsWith('/api/session')) {
      onUnauthenticated(error);
    }
    throw error;
  }
  return (text ? JSON.parse(text) : {}) as T;
}

export const getJson = <T>(path: string, query?: Query) => send<T>('GET', path, undefined, query);
export const postJson = <T>(path: string, body: unknown = {}) => send<T>('POST', path, body);
export const deleteJson = <T>(path: string) => send<T>('DELETE', path);

/** Every page of a paged list (page_token / next_page_token), concatenated. */
export async function getAllPages<T, R extends { nextPageToken?: string }>(path: string, query: Query, items: (page: R) => T[] | undefined): Promise<T[]> {
  const all: T[] = [];
  let token = '';
  do {
    const page = await getJson<R>(path, { ...query, pageToken: token });
    all.push(...(items(page) ?? []));
    token = page.nextPageToken ?? '';
  } while (token);
  return all;
}
