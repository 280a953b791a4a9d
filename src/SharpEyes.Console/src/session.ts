// Signing in: the page asks for an API key once, sends it to POST /api/session and forgets it; the gateway answers an
// HttpOnly, SameSite=Strict cookie the page cannot read (docs/console-api.md). The key is never put in a URL or in
// storage. The session is renewed by GET /api/session every few minutes while the page is open; a 401 from any
// request (expiry, sign-out elsewhere, a revoked key) shows the sign-in form again.
import { ApiError, deleteJson, getJson, onSignedOut, postJson, useCsrf } from './api';
import { defineMessages, onLangChange } from './i18n';

export type Role = 'ROLE_ADMIN' | 'ROLE_OPERATOR' | 'ROLE_PLANNER';

export interface Session {
  keyId: string;
  role: Role;
  authenticatedBy: string;
  signedInAt?: string;
  expiresAt?: string;
  absoluteExpiresAt?: string;
  csrfToken: string;
  csrfHeader: string;
}

export const text = defineMessages(
  {
    signInTitle: '登录控制台',
    signInHelp: '输入运维值班员、规划人员或管理员的 API 密钥。密钥只用于换取本浏览器的会话，不会被保存。',
    keyLabel: 'API 密钥',
    signIn: '登录',
    signingIn: '正在登录……',
    signOut: '退出',
    who: '{role} · 密钥 {keyId}',
    ROLE_ADMIN: '管理员',
    ROLE_OPERATOR: '值班员',
    ROLE_PLANNER: '规划人员',
    expired: '会话已结束，请重新登录：{reason}',
    refused: '登录失败：{reason}',
  },
  {
    signInTitle: 'Sign in to the console',
    signInHelp: "Enter an operator's, planner's or admin's API key. It is only exchanged for this browser's session and is not kept.",
    keyLabel: 'API key',
    signIn: 'Sign in',
    signingIn: 'Signing in…',
    signOut: 'Sign out',
    who: '{role} · key {keyId}',
    ROLE_ADMIN: 'Admin',
    ROLE_OPERATOR: 'Operator',
    ROLE_PLANNER: 'Planner',
    expired: 'The session has ended; sign in again: {reason}',
    refused: 'Sign-in failed: {reason}',
  },
);

/** The signed-in session; undefined before sign-in. */
let session: Session | undefined;
export const current = () => session;

export const can = {
  /** Acknowledge and close incidents (the gateway's access table says the same: admin, operator). */
  handleIncidents: () => session?.role === 'ROLE_ADMIN' || session?.role === 'ROLE_OPERATOR',
  /** The planner view: blind spots, placements, exports. */
  plan: () => session?.role === 'ROLE_ADMIN' || session?.role === 'ROLE_PLANNER',
};

const renewEvery = 5 * 60_000;

function adopt(value: Session) {
  session = value;
  useCsrf(value.csrfHeader, value.csrfToken);
  renderWho();
}

function renderWho() {
  const who = document.getElementById('who');
  const out = document.getElementById('sign-out') as HTMLButtonElement | null;
  if (who) {
    who.textContent = session ? text('who', { role: text(session.role), keyId: session.keyId }) : '';
  }
  if (out) {
    out.hidden = !session;
    out.textContent = text('signOut');
  }
}

function dialog() {
  return document.getElementById('signin') as HTMLDialogElement;
}

function renderDialog() {
  const form = dialog();
  form.querySelector('h2')!.textContent = text('signInTitle');
  form.querySelector('.help')!.textContent = text('signInHelp');
  form.querySelector('label')!.textContent = text('keyLabel');
  form.querySelector('button')!.textContent = text('signIn');
}

/** Shows the form until a key signs in; resolves with the session. */
function ask(reason?: string): Promise<Session> {
  const box = dialog();
  const form = box.querySelector('form')!;
  const input = box.querySelector('input')!;
  const error = box.querySelector('.error')!;
  const button = box.querySelector('button')!;
  renderDialog();
  error.textContent = reason ?? '';
  document.documentElement.dataset.session = 'signed-out';
  if (!box.open) {
    box.showModal();
  }
  input.focus();
  return new Promise((resolve) => {
    const submit = async (e: Event) => {
      e.preventDefault();
      button.disabled = true;
      button.textContent = text('signingIn');
      try {
        const value = await postJson<Session>('/api/session', { apiKey: input.value.trim() });
        input.value = '';
        form.removeEventListener('submit', submit);
        box.close();
        resolve(value);
      } catch (err) {
        error.textContent = text('refused', { reason: (err as Error).message });
        input.select();
      } finally {
        button.disabled = false;
        button.textContent = text('signIn');
      }
    };
    form.addEventListener('submit', submit);
  });
}

const signedOutHandlers: (() => void)[] = [];
/** Modules that hold live state (the event stream) stop on sign-out. */
export const onSessionEnd = (handler: () => void) => signedOutHandlers.push(handler);

let asking: Promise<Session> | undefined;

async function signInAgain(reason: string) {
  session = undefined;
  renderWho();
  for (const handler of signedOutHandlers) {
    handler();
  }
  // A page reload after signing in again: every module starts from what the new key may see.
  asking ??= ask(text('expired', { reason }));
  await asking;
  location.reload();
}

/** The session this page has, or the one the user opens in the form. */
export async function signIn(): Promise<Session> {
  renderWho();
  onLangChange(() => {
    renderWho();
    if (dialog().open) {
      renderDialog();
    }
  });
  document.getElementById('sign-out')?.addEventListener('click', async () => {
    try {
      await deleteJson('/api/session');
    } finally {
      location.reload();
    }
  });
  let value: Session;
  try {
    value = await getJson<Session>('/api/session');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) {
      throw e;
    }
    value = await ask();
  }
  adopt(value);
  document.documentElement.dataset.session = 'signed-in';
  document.documentElement.dataset.role = value.role;
  onSignedOut((error) => void signInAgain(error.message));
  setInterval(async () => {
    try {
      adopt(await getJson<Session>('/api/session'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        void signInAgain(e.message);
      }
    }
  }, renewEvery);
  return value;
}
