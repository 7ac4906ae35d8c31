// The joint operations view's dialogs (operations.js), in the console's one modal dialog (#dialog): a new operation,
// a task (kind, the participating agency whose territory it is in, deadline, description, marking), a situation log
// entry, the day of action, the reason for refusing a task in our jurisdiction, joining and leaving, and a shared case
// a target comes from. Each returns the request body (or null when cancelled); the caller sends it and the server
// applies the sovereignty rules. Focus goes to the first field and back to the opener on close (the dialog element).

import { t, fmtTime } from './i18n.js';
import { el, entityText } from './operations.js';

const KINDS = ['surveillance', 'search', 'arrest', 'rescue', 'freeze_request'];
const TLPS = ['GREEN', 'AMBER', 'RED'];
const HANDLING = ['H0', 'H1', 'H2', 'H3'];
const $ = (id) => document.getElementById(id);

function openDialog(title, okLabel, body) {
  return new Promise((resolve) => {
    const dlg = $('dialog');
    $('dialog-title').textContent = title;
    $('dialog-ok').textContent = okLabel;
    $('dialog-cancel').textContent = t('cancel');
    $('dialog-body').replaceChildren(body);
    const done = (ok) => {
      dlg.onclose = null;
      if (dlg.open) dlg.close();
      resolve(ok);
    };
    $('dialog-cancel').onclick = () => done(false);
    // Ctrl+Enter sends from a text area (Enter there is a new line).
    body.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        $('dialog-form').requestSubmit($('dialog-ok'));
      }
    });
    dlg.onclose = () => resolve(dlg.returnValue === 'ok');
    dlg.returnValue = '';
    dlg.showModal();
    if (body.querySelector('textarea')) {
      const hint = el('p', 'muted small', t('op_ctrl_enter'));
      hint.id = 'op-f-ctrl-enter';
      body.append(hint);
    }
    body.querySelector('input, textarea, select')?.focus();
  });
}

function field(id, label, control) {
  const wrap = el('div', 'field');
  const l = el('label', null, label);
  l.htmlFor = id;
  control.id = id;
  wrap.append(l, control);
  return wrap;
}

function select(options, value) {
  const s = el('select');
  for (const [v, label] of options) {
    const o = el('option', null, label);
    o.value = v;
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}

function textarea(max = 4000, rows = 3) {
  const ta = el('textarea');
  ta.setAttribute('aria-describedby', 'op-f-ctrl-enter');
  ta.rows = rows;
  ta.maxLength = max;
  ta.required = true;
  return ta;
}

// `datetime-local` in the browser's zone, as an RFC 3339 instant (and back).
const toLocal = (iso) => {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};
const fromLocal = (value) => (value ? new Date(value).toISOString() : null);

function marking() {
  const box = el('div', 'ops-marking');
  const tlp = select(TLPS.map((x) => [x, `TLP:${x}`]), 'AMBER');
  const handling = select(HANDLING.map((x) => [x, t(`op_h_${x}`)]), 'H0');
  box.append(field('op-f-tlp', t('op_tlp'), tlp), field('op-f-handling', t('op_handling'), handling));
  return { box, read: () => ({ tlp: tlp.value, handling: handling.value }) };
}

export async function taskDialog(view, v) {
  const form = el('div', 'ops-form');
  const kind = select(KINDS.map((k) => [k, t(`op_kind_${k}`)]), 'search');
  const active = Object.values(v.participants).filter((m) => !m.left_after && m.joined);
  const where = select(active.map((m) => [m.participant.agency, view.name(m.participant.agency)]), view.me.id);
  const deadline = el('input');
  deadline.type = 'datetime-local';
  deadline.required = true;
  const base = v.day_of_action && Date.parse(v.day_of_action) > Date.now() ? v.day_of_action : new Date(Date.now() + 86400e3).toISOString();
  deadline.value = toLocal(base);
  const desc = textarea();
  const mark = marking();
  const hint = el('p', 'muted small', t('op_consent_hint'));
  form.append(field('op-f-kind', t('op_kind'), kind), field('op-f-where', t('op_jurisdiction'), where), hint,
    field('op-f-deadline', t('op_deadline'), deadline), field('op-f-desc', t('op_description'), desc), mark.box);
  if (!(await openDialog(t('op_new_task'), t('op_propose'), form))) return null;
  if (!desc.value.trim() || !deadline.value) return null;
  return { kind: kind.value, jurisdiction: where.value, deadline: fromLocal(deadline.value), description: desc.value.trim(), ...mark.read() };
}

export async function logDialog() {
  const form = el('div', 'ops-form');
  const ta = textarea(4000, 4);
  const mark = marking();
  form.append(field('op-f-log', t('op_log_text'), ta), mark.box);
  if (!(await openDialog(t('op_new_log'), t('save'), form))) return null;
  return ta.value.trim() ? { text: ta.value.trim(), ...mark.read() } : null;
}

export async function dayDialog(view, current) {
  const form = el('div', 'ops-form');
  const at = el('input');
  at.type = 'datetime-local';
  at.value = current ? toLocal(current) : toLocal(new Date(Date.now() + 2 * 86400e3).toISOString());
  form.append(field('op-f-day', t('op_day'), at), el('p', 'muted small', t('op_day_hint')));
  if (!(await openDialog(t('op_set_day'), t('save'), form))) return undefined;
  return fromLocal(at.value);
}

export async function consentDialog(view, task) {
  const form = el('div', 'ops-form');
  const ta = textarea(4000, 3);
  form.append(el('p', null, `${t(`op_kind_${task.kind}`)} — ${view.name(task.owner)}`), field('op-f-reason', t('op_refuse_reason'), ta));
  if (!(await openDialog(t('op_refuse'), t('op_refuse'), form))) return null;
  return ta.value.trim() || null;
}

export async function joinDialog() {
  const form = el('div', 'ops-form');
  const ta = textarea(4000, 2);
  form.append(field('op-f-basis', t('op_your_basis'), ta));
  if (!(await openDialog(t('op_join'), t('op_join'), form))) return null;
  return ta.value.trim() || null;
}

export async function leaveDialog() {
  const form = el('div', 'ops-form');
  const ta = textarea(4000, 2);
  form.append(el('p', 'muted small', t('op_leave_hint')), field('op-f-leave', t('op_reason'), ta));
  if (!(await openDialog(t('op_leave'), t('op_leave'), form))) return null;
  return ta.value.trim() || null;
}

export async function newOperationDialog(view, agreements) {
  const now = Date.now();
  const live = agreements.filter((a) => !a.revoked_at && Date.parse(a.expires_at) > now && Date.parse(a.valid_from) <= now);
  const form = el('div', 'ops-form');
  const title = el('input');
  title.required = true;
  title.maxLength = 4000;
  const basis = el('input');
  basis.required = true;
  basis.maxLength = 4000;
  const agrBox = el('fieldset', 'ops-checks');
  agrBox.append(el('legend', null, t('op_agreements')));
  const agrChecks = live.map((a) => {
    const c = el('input');
    c.type = 'checkbox';
    c.value = a.id;
    const l = el('label', 'check-row');
    l.append(c, ` ${a.title} (${[...a.parties].map((p) => view.short(p)).join(', ')})`);
    agrBox.append(l);
    return c;
  });
  if (!live.length) agrBox.append(el('p', 'muted', t('op_no_agreements')));
  const partBox = el('fieldset', 'ops-checks');
  partBox.append(el('legend', null, t('op_invite')));
  const peers = [...view.agencies.values()].filter((a) => a.id !== view.me.id);
  const partRows = peers.map((p) => {
    const c = el('input');
    c.type = 'checkbox';
    c.value = p.id;
    c.id = `op-f-p-${p.id.slice(0, 12)}`;
    const role = select([['participant', t('op_role_participant')], ['observer', t('op_role_observer')]], 'participant');
    role.setAttribute('aria-label', `${t('op_role')}: ${view.name(p.id)}`);
    const row = el('div', 'check-row');
    const l = el('label', null, view.name(p.id));
    l.htmlFor = c.id;
    row.append(c, l, role);
    partBox.append(row);
    return { c, role };
  });
  const day = el('input');
  day.type = 'datetime-local';
  form.append(field('op-f-title', t('op_op_title'), title), agrBox, field('op-f-basis', t('op_your_basis'), basis), partBox,
    field('op-f-newday', `${t('op_day')} (${t('op_optional')})`, day));
  if (!(await openDialog(t('op_new'), t('op_create'), form))) return null;
  return {
    title: title.value.trim(),
    legal_basis: basis.value.trim(),
    agreements: agrChecks.filter((c) => c.checked).map((c) => c.value),
    participants: partRows.filter((r) => r.c.checked).map((r) => ({ agency: r.c.value, role: r.role.value })),
    day_of_action: fromLocal(day.value),
  };
}

// A shared case as held here: the case and its leads (titles, summaries, entities); read-only.
export async function caseDialog(view, records) {
  const box = el('div', 'ops-form ops-case');
  for (const r of records) {
    const c = r.body.kind === 'case' ? r.body : r.body.content;
    if (!c) continue;
    box.append(el('h3', null, `${r.body.kind === 'case' ? t('op_case') : t('op_lead_record')}: ${c.title}`));
    box.append(el('p', 'muted small', `${view.name(r.origin)} · ${r.category} · ${r.marking.tlp} · ${fmtTime(r.updated_at)}`));
    if (c.summary) box.append(el('p', null, c.summary));
    const ul = el('ul');
    for (const e of c.entities ?? []) ul.append(el('li', 'mono', `${e.type}: ${entityText(e)}`));
    if (ul.childElementCount) box.append(ul);
  }
  await openDialog(t('op_case'), 'OK', box);
}
