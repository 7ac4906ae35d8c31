// "Request freeze" from a traced endpoint (issue 22 part 4): a modal dialog pre-filled from the endpoints table's row
// (account, holding, currency), posting POST /api/exchange/freeze with the run id so that the server takes the
// evidence, the account and its jurisdiction from the stored run. The dialog is a native <dialog> (focus stays
// inside, Escape closes, focus returns to the row's button); after success it shows the request and a link to the
// freeze requests page.

import { t } from './i18n.js';

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

// `800.000000` at 6 decimals -> `800000000`: the API takes exact minor units as a string of digits.
function minorUnits(holding, decimals) {
  const [whole, frac = ''] = String(holding).split('.');
  const digits = `${whole}${frac.padEnd(decimals, '0').slice(0, decimals)}`.replace(/^0+(?=\d)/, '');
  return digits;
}

// Partner agencies sharing an active agreement that permits freeze requests, the endpoint's country first. The
// server resolves the recipient from the account's jurisdiction, so this is a list to read, not a choice to send.
async function partners(api, country, kind) {
  const list = await api('GET', '/api/exchange/freeze/partners').catch(() => []);
  return list.filter((p) => p.kinds.includes(kind))
    .sort((a, b) => (b.country === country) - (a.country === country) || a.name.localeCompare(b.name));
}

export async function openFreezeDialog(api, run, endpoint, opener) {
  document.getElementById('mf-dialog')?.remove();
  const currency = run.summary.currency;
  const dialog = el('dialog', { id: 'mf-dialog', 'aria-labelledby': 'mf-title', 'aria-describedby': 'mf-help' });
  const deadline = new Date(Date.now() + 3 * 86400000).toISOString().slice(0, 16);
  const field = (id, label, input) => [el('label', { for: id, text: label }), input];
  const account = el('input', { id: 'mf-account', class: 'mono', value: endpoint.account, readonly: '' });
  const amount = el('input', { id: 'mf-amount', inputmode: 'numeric', pattern: '[0-9]+', required: '', value: minorUnits(endpoint.holding, run.decimals) });
  const cur = el('input', { id: 'mf-currency', value: currency, required: '' });
  const kind = el('select', { id: 'mf-kind' },
    el('option', { value: 'freeze', text: t('fz_k_freeze') }),
    el('option', { value: 'confiscation', text: t('fz_k_confiscation') }));
  const due = el('input', { id: 'mf-deadline', type: 'datetime-local', required: '', value: deadline });
  const partner = el('ul', { id: 'mf-partner', class: 'small', 'aria-labelledby': 'mf-partner-label' });
  const status = el('div', { id: 'mf-status', role: 'status' });
  const send = el('button', { type: 'submit', class: 'primary', text: t('mf_submit') });
  const cancel = el('button', { type: 'button', text: t('mf_cancel') });
  const form = el('form', { method: 'dialog', class: 'mf-form' },
    el('h3', { id: 'mf-title', text: t('mf_title') }),
    el('p', { id: 'mf-help', class: 'small muted', text: t('mf_help') }),
    ...field('mf-account', t('mf_account'), account),
    ...field('mf-amount', `${t('mf_amount')} (${run.decimals} ${t('mf_decimals')})`, amount),
    ...field('mf-currency', t('mf_currency'), cur),
    ...field('mf-kind', t('mf_kind'), kind),
    ...field('mf-deadline', t('mf_deadline'), due),
    el('p', { id: 'mf-partner-label', text: t('mf_partner') }),
    partner,
    status,
    el('div', { class: 'mf-actions' }, send, cancel));
  dialog.append(form);
  document.body.append(dialog);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => { dialog.remove(); opener?.focus(); });
  dialog.showModal();
  amount.focus();

  const fill = async () => {
    const list = await partners(api, endpoint.country, kind.value);
    partner.replaceChildren();
    if (!list.length) partner.append(el('li', { text: t('mf_no_partner') }));
    for (const p of list) partner.append(el('li', { text: `${p.name} (${p.country})` }));
  };
  kind.addEventListener('change', fill);
  await fill();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = '';
    send.disabled = true;
    try {
      const held = await api('POST', '/api/exchange/freeze', {
        trace_run: run.id,
        endpoint: endpoint.account,
        case_id: run.case_id,
        kind: kind.value,
        amount_minor: amount.value.trim(),
        currency: cur.value.trim().toUpperCase(),
        decimals: run.decimals,
        deadline: new Date(due.value).toISOString(),
      });
      const id = held.request.body.id;
      form.replaceChildren(
        el('h3', { id: 'mf-title', text: t('mf_sent') }),
        el('p', { id: 'mf-help', text: `${t('fz_id')} ${id} · ${t(`fz_k_${held.request.body.kind}`)} · ${t('fz_to')} ${held.request.body.recipient.slice(0, 12)}…` }),
        el('p', {}, el('a', { id: 'mf-link', href: `/console/freeze.html#${id}`, text: t('mf_view') })),
        el('div', { class: 'mf-actions' }, Object.assign(el('button', { type: 'button', text: t('mf_close') }), { onclick: () => dialog.close() })));
      document.getElementById('mf-link').focus();
    } catch (err) {
      status.textContent = `${t('mf_failed')}: ${err.message ?? err}`;
      send.disabled = false;
    }
  });
}
