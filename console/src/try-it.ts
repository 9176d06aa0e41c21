// "Try it": one GET, PUT or DELETE of a key on this node at a chosen r/w/consistency, showing
// the status, the body, the causal context and who answered how fast (Server-Timing). /kv
// needs no admin token; the value is shown as text, never as markup.

import { byId, fill, h } from './dom.js';
import { ms } from './format.js';
import { parseServerTiming } from './server-timing.js';
import type { ClusterView } from './wire.js';

const BODY_SHOWN_CHARS_MAX = 2000;

export interface TryIt {
  update(view: ClusterView): void;
}

function levelOptions(n: number): HTMLOptionElement[] {
  const counts = Array.from({ length: n }, (_, i) => String(i + 1));
  return ['', 'one', 'quorum', 'all', ...counts].map((v) =>
    h('option', { value: v }, v === '' ? 'profile default' : v),
  );
}

/** `onAnswer` runs after each request, so the traffic figures can show it at once. */
export function mountTryIt(onAnswer: () => void): TryIt {
  const root = byId('try');
  const method = h(
    'select',
    { id: 'try-method' },
    h('option', { value: 'GET' }, 'GET'),
    h('option', { value: 'PUT' }, 'PUT'),
    h('option', { value: 'DELETE' }, 'DELETE'),
  );
  const key = h('input', { id: 'try-key', type: 'text', value: 'greeting', required: true });
  const value = h('textarea', { id: 'try-value', rows: 2 }, 'hello');
  const r = h('select', { id: 'try-r' });
  const w = h('select', { id: 'try-w' });
  const consistency = h(
    'select',
    { id: 'try-consistency' },
    h('option', { value: '' }, 'profile default'),
    h('option', { value: 'linearizable' }, 'linearizable'),
    h('option', { value: 'default' }, 'default (not linearizable)'),
  );
  const timeout = h('input', {
    id: 'try-timeout',
    type: 'number',
    min: 1,
    max: 60000,
    placeholder: 'default',
  });
  const context = h('input', { id: 'try-context', type: 'text', placeholder: 'from the last GET' });
  const send = h('button', { type: 'submit', id: 'try-send' }, 'Send');
  const out = h('div', { id: 'try-result', class: 'try-result' });
  const form = h(
    'form',
    { class: 'try-form' },
    h('label', {}, 'request ', method, ' /kv/', key),
    h('label', { class: 'value-label' }, 'value (PUT) ', value),
    h('label', {}, 'r ', r),
    h('label', {}, 'w ', w),
    h('label', {}, 'consistency ', consistency),
    h('label', {}, 'timeout ms ', timeout),
    h('label', { class: 'context-label' }, 'X-Kvorum-Context ', context),
    h('div', { class: 'actions' }, send),
  );
  fill(root, form, out);
  let n = 0;

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run();
  });

  async function run(): Promise<void> {
    const params = new URLSearchParams();
    const m = method.value;
    if (m === 'GET' && r.value !== '') params.set('r', r.value);
    if (m !== 'GET' && w.value !== '') params.set('w', w.value);
    if (consistency.value !== '') params.set('consistency', consistency.value);
    if (timeout.value !== '') params.set('timeout', timeout.value);
    const qs = params.size > 0 ? `?${params.toString()}` : '';
    const path = `/kv/${encodeURIComponent(key.value)}${qs}`;
    const headers: Record<string, string> = {};
    if (m === 'PUT') headers['content-type'] = 'text/plain; charset=utf-8';
    if (m !== 'GET' && context.value !== '') headers['x-kvorum-context'] = context.value;
    send.disabled = true;
    const started = performance.now();
    try {
      const res = await fetch(path, {
        method: m,
        headers,
        cache: 'no-store',
        ...(m === 'PUT' ? { body: value.value } : {}),
      });
      const text = await res.text();
      const tookMs = performance.now() - started;
      const ctx = res.headers.get('x-kvorum-context');
      if (m === 'GET' && ctx !== null) context.value = ctx;
      showResult(m, path, res, text, tookMs);
    } catch (err) {
      fill(
        out,
        h('p', { class: 'result', 'data-ok': 'false' }, `the request failed: ${String(err)}`),
      );
    } finally {
      send.disabled = false;
      onAnswer();
    }
  }

  function showResult(m: string, path: string, res: Response, text: string, tookMs: number): void {
    const timings = parseServerTiming(res.headers.get('server-timing'));
    const longest = Math.max(1, ...timings.map((t) => t.durMs));
    const shown =
      text.length > BODY_SHOWN_CHARS_MAX ? `${text.slice(0, BODY_SHOWN_CHARS_MAX)}…` : text;
    fill(
      out,
      h(
        'p',
        { class: 'status-line' },
        h(
          'span',
          {
            class: `status s${res.status >= 200 && res.status < 300 ? '2xx' : res.status}`,
            id: 'try-status',
          },
          String(res.status),
        ),
        ` ${res.statusText} · ${m} ${path} · ${ms(tookMs)} in the browser`,
      ),
      timings.length === 0
        ? h('p', { class: 'muted small' }, 'no Server-Timing entries')
        : h(
            'table',
            { class: 'table timings', id: 'try-timings' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'replica'),
                h('th', { class: 'num' }, 'time'),
                h('th', {}, 'answer'),
                h('th', {}, ''),
              ),
            ),
            h(
              'tbody',
              {},
              ...timings.map((t) => {
                const bar = h('span', { class: `timing-bar ${t.desc}` });
                bar.style.width = `${Math.max(2, (t.durMs / longest) * 100)}%`;
                return h(
                  'tr',
                  { 'data-node': t.node },
                  h('td', {}, t.node),
                  h('td', { class: 'num' }, ms(t.durMs)),
                  h('td', {}, t.desc),
                  h('td', { class: 'bar-cell' }, bar),
                );
              }),
            ),
          ),
      shown === '' ? null : h('pre', { class: 'body', id: 'try-body' }, shown),
    );
  }

  return {
    update(view: ClusterView): void {
      if (view.n === n) return;
      n = view.n;
      const rv = r.value;
      const wv = w.value;
      fill(r, ...levelOptions(n));
      fill(w, ...levelOptions(n));
      r.value = rv;
      w.value = wv;
    },
  };
}
