// Identify (analysts, supervisors): look up an image or video against the hash banks, review each match as a true or
// false positive, read the banks (their origin: local or a partner's exchange, and partner feedback when a bank has
// it), their content, and the signals quarantined for flooding matches; supervisors create banks and disable or
// re-enable content.
//
// What an analyst looks up may be abusive material. So the file goes to the server only to be hashed there (in
// memory, never kept), the server never sends an image back, and the page shows none by default: a local preview is
// drawn only on request, blurred and greyscale until the analyst unblurs it, as trust-and-safety review tools do.
// Everything is a native control (file input, buttons, forms), so the view is usable with the keyboard alone.

import { t, fmtTime } from './i18n.js';

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children);
  return e;
}

const short = (id) => (id ? id.slice(0, 8) : '–');
const pct = (v) => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(1)} %` : '–');
const isVideo = (file) => file.type.startsWith('video/') || /\.(mp4|m4v|mov|mkv|webm|avi|ts|mpg|mpeg|wmv|flv|3gp)$/i.test(file.name);

// A bank's partner feedback, when the bank carries it: counts of confirmations and refutations, or a list of them.
function feedbackText(feedback) {
  if (feedback === undefined || feedback === null) return '–';
  if (Array.isArray(feedback)) {
    const tp = feedback.filter((f) => f.verdict === 'true_positive').length;
    const fp = feedback.filter((f) => f.verdict === 'false_positive').length;
    return `${t('id_fb_tp')} ${tp} · ${t('id_fb_fp')} ${fp}`;
  }
  if (typeof feedback === 'object') {
    const tp = feedback.true_positive ?? feedback.true_positives ?? 0;
    const fp = feedback.false_positive ?? feedback.false_positives ?? 0;
    return `${t('id_fb_tp')} ${tp} · ${t('id_fb_fp')} ${fp}`;
  }
  return String(feedback);
}

export class IdentifyView {
  constructor(root, api, may = () => false) {
    this.root = root;
    this.api = api;
    this.may = may;
    this.banks = [];
    this.quarantine = [];
    this.answer = null;
    this.reviews = new Map();
    this.bankId = null;
    this.content = [];
    // The chosen file stays in this page; `preview` is 'hidden', 'blurred' or 'clear'.
    this.file = null;
    this.preview = 'hidden';
    this.previewUrl = null;
    this.status = '';
    window.__jikimiIdentify = this;
  }

  async show() {
    await this.reload();
  }

  async reload() {
    [this.banks, this.quarantine] = await Promise.all([
      this.api('GET', '/api/identify/banks'),
      this.api('GET', '/api/identify/quarantine').catch(() => []),
    ]);
    if (this.bankId) this.content = await this.api('GET', `/api/identify/banks/${this.bankId}/content?limit=100`).catch(() => []);
    this.render();
  }

  // Keeps the focus on the control that had it (by id) across a re-render.
  render() {
    const focused = document.activeElement?.id;
    const r = this.root;
    r.replaceChildren(
      el('h2', { id: 'identify-title', text: t('idTitle') }),
      el('div', { class: 'id-body' },
        el('p', { class: 'small muted id-note', text: t('id_note') }),
        this.lookupSection(),
        this.resultsSection(),
        this.banksSection(),
        this.quarantineSection()),
    );
    if (focused) document.getElementById(focused)?.focus();
  }

  // ---- lookup by upload ----------------------------------------------------------------------------------------
  lookupSection() {
    const form = el('form', { id: 'id-lookup', class: 'id-panel', 'aria-labelledby': 'id-lookup-title' });
    const input = el('input', { id: 'id-file', type: 'file', accept: 'image/*,video/*' });
    const chosen = el('p', { id: 'id-file-name', class: 'small', text: this.file ? `${this.file.name} · ${Math.ceil(this.file.size / 1024)} KiB` : '' });
    const drop = el('div', { id: 'id-drop', class: 'id-drop' },
      el('label', { for: 'id-file', text: t('id_drop') }), input, chosen);
    input.addEventListener('change', () => this.choose(input.files[0] ?? null));
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      const file = e.dataTransfer?.files?.[0];
      if (file) this.choose(file);
    });
    form.append(el('h3', { id: 'id-lookup-title', text: t('id_lookup') }), drop, this.previewBox(),
      el('button', { type: 'submit', class: 'primary', id: 'id-go', text: t('id_go') }),
      el('p', { id: 'id-status', role: 'status', class: 'small', text: this.status }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.lookup().catch(() => {});
    });
    return form;
  }

  previewBox() {
    const box = el('div', { class: 'id-preview-box' });
    if (!this.file) return box;
    if (isVideo(this.file)) {
      box.append(el('p', { class: 'small muted', text: t('id_no_video_preview') }));
      return box;
    }
    const shown = this.preview !== 'hidden';
    const toggle = el('button', { type: 'button', id: 'id-preview-toggle', 'aria-pressed': String(shown), text: shown ? t('id_preview_hide') : t('id_preview_show') });
    toggle.addEventListener('click', () => this.setPreview(shown ? 'hidden' : 'blurred'));
    box.append(toggle);
    if (shown && this.previewUrl) {
      const clear = this.preview === 'clear';
      const unblur = el('button', { type: 'button', id: 'id-preview-unblur', 'aria-pressed': String(clear), text: clear ? t('id_preview_blur') : t('id_preview_unblur') });
      unblur.addEventListener('click', () => this.setPreview(clear ? 'blurred' : 'clear'));
      box.append(unblur, el('img', { id: 'id-preview', class: clear ? 'id-preview' : 'id-preview blurred', src: this.previewUrl, alt: t('id_preview_alt') }));
    }
    return box;
  }

  choose(file) {
    this.file = file;
    this.preview = 'hidden';
    this.previewUrl = null;
    this.status = '';
    this.render();
  }

  // The preview is read from the file in this page (a data: URL; nothing is fetched) only once it is asked for.
  setPreview(mode) {
    this.preview = mode;
    if (mode === 'hidden' || this.previewUrl || !this.file) {
      this.render();
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      this.previewUrl = String(reader.result);
      this.render();
    };
    reader.readAsDataURL(this.file);
  }

  async lookup() {
    if (!this.file) {
      this.status = t('id_no_file');
      this.render();
      return;
    }
    this.status = t('id_looking');
    this.render();
    const form = new FormData();
    form.append(isVideo(this.file) ? 'video' : 'photo', this.file, 'upload');
    try {
      this.answer = await this.api('POST', '/api/identify/lookup', form);
      this.reviews.clear();
      const n = this.answer.banks.reduce((sum, b) => sum + b.matches.length, 0);
      this.status = n ? `${t('id_found')}: ${n}` : t('id_no_match');
    } catch (err) {
      this.status = `${t('id_failed')}: ${err.message}`;
    }
    await this.reload();
  }

  // ---- matches and reviews -------------------------------------------------------------------------------------
  resultsSection() {
    const section = el('section', { id: 'id-results', class: 'id-panel', 'aria-labelledby': 'id-results-title' });
    section.append(el('h3', { id: 'id-results-title', text: t('id_results') }));
    const a = this.answer;
    if (!a) {
      section.append(el('p', { class: 'muted small', text: t('id_no_lookup') }));
      return section;
    }
    const facts = el('dl', { class: 'id-facts' });
    if (a.pdq) facts.append(el('dt', { text: t('id_hash') }), el('dd', { class: 'mono', text: a.pdq }));
    if (a.quality !== null && a.quality !== undefined) facts.append(el('dt', { text: t('id_quality') }), el('dd', { text: String(a.quality) }));
    if (a.frames !== null && a.frames !== undefined) facts.append(el('dt', { text: t('id_frames') }), el('dd', { text: String(a.frames) }));
    facts.append(el('dt', { text: t('id_kind') }), el('dd', { text: a.kind }));
    section.append(facts);
    if (!a.banks.length) section.append(el('p', { id: 'id-no-match', text: t('id_no_match') }));
    const video = a.kind === 'video' || a.kind === 'vpdq';
    for (const bank of a.banks) section.append(this.bankResult(bank, video));
    if (a.suppressed?.length) {
      const list = el('ul', { id: 'id-suppressed', class: 'small' });
      for (const m of a.suppressed) list.append(el('li', { text: `${short(m.content_id)} · ${m.category ?? '–'} · ${t('id_distance')} ${m.distance}` }));
      section.append(el('h4', { text: t('id_suppressed') }), list);
    }
    return section;
  }

  bankResult(bank, video) {
    const box = el('div', { class: 'id-bank-result', 'data-bank': bank.bank_id });
    const table = el('table', { class: 'id-table' });
    table.append(el('caption', { text: bank.negative ? `${bank.name} (${t('id_negative')})` : bank.name }));
    const head = el('tr');
    const cols = ['id_content', 'id_category', 'id_series', 'id_distance'];
    if (video) cols.push('id_query_pct', 'id_compared_pct');
    cols.push('id_state', 'id_review');
    for (const c of cols) head.append(el('th', { scope: 'col', text: t(c) }));
    table.append(el('thead', {}, head));
    const body = el('tbody');
    for (const m of bank.matches) body.append(this.matchRow(m, video));
    table.append(body);
    box.append(table);
    return box;
  }

  matchRow(m, video) {
    const tr = el('tr', { 'data-content': m.content_id, 'data-match': m.match_id ?? '' });
    tr.append(el('td', { class: 'mono', title: m.content_id, text: short(m.content_id) }),
      el('td', { text: m.category ?? '–' }), el('td', { text: m.series ?? '–' }),
      el('td', { class: 'num', text: String(m.distance) }));
    if (video) tr.append(el('td', { class: 'num', text: pct(m.query_match_percent) }), el('td', { class: 'num', text: pct(m.compared_match_percent) }));
    const reviewed = this.reviews.get(m.match_id);
    const quarantined = reviewed ? reviewed.quarantined : m.quarantined;
    tr.append(el('td', { class: 'id-state', text: [quarantined ? t('id_quarantined') : '', reviewed ? `${t('id_reviewed')}: ${t(reviewed.verdict === 'true_positive' ? 'id_tp' : 'id_fp')}` : ''].filter(Boolean).join(' · ') || '–' }));
    const cell = el('td');
    if (m.match_id) {
      const group = el('div', { role: 'group', class: 'id-review', 'aria-label': `${t('id_review')}: ${short(m.content_id)}` });
      for (const verdict of ['true_positive', 'false_positive']) {
        const b = el('button', {
          type: 'button', class: `small-btn id-${verdict === 'true_positive' ? 'tp' : 'fp'}`, 'data-verdict': verdict,
          id: `id-review-${m.match_id}-${verdict}`, 'aria-pressed': String(reviewed?.verdict === verdict),
          text: t(verdict === 'true_positive' ? 'id_tp' : 'id_fp'),
        });
        b.addEventListener('click', () => this.review(m.match_id, verdict).catch(() => {}));
        group.append(b);
      }
      cell.append(group);
    }
    tr.append(cell);
    return tr;
  }

  async review(matchId, verdict) {
    const reviewed = await this.api('POST', `/api/identify/matches/${matchId}/review`, { verdict });
    this.reviews.set(matchId, reviewed);
    this.status = `${t('id_reviewed')}: ${t(verdict === 'true_positive' ? 'id_tp' : 'id_fp')}`;
    await this.reload();
  }

  // ---- banks ---------------------------------------------------------------------------------------------------
  banksSection() {
    const section = el('section', { id: 'id-banks', class: 'id-panel', 'aria-labelledby': 'id-banks-title' });
    section.append(el('h3', { id: 'id-banks-title', text: t('id_banks') }));
    const manage = this.may('manage_banks');
    const showFeedback = this.banks.some((b) => b.feedback !== undefined);
    const table = el('table', { class: 'id-table', id: 'id-bank-table' });
    const head = el('tr');
    const cols = ['id_name', 'id_origin', 'id_kind', 'id_distance', 'id_state', 'id_created_by'];
    if (showFeedback) cols.push('id_feedback');
    cols.push('id_actions');
    for (const c of cols) head.append(el('th', { scope: 'col', text: t(c) }));
    table.append(el('thead', {}, head));
    const body = el('tbody');
    for (const b of this.banks) {
      const open = this.bankId === b.id;
      const button = el('button', { type: 'button', class: 'small-btn id-show-content', id: `id-show-${b.id}`, 'aria-expanded': String(open), 'aria-controls': 'id-content', text: t('id_show_content') });
      button.addEventListener('click', () => this.openBank(open ? null : b.id).catch(() => {}));
      const tr = el('tr', { 'data-bank': b.id },
        el('td', { text: b.name }),
        el('td', { class: 'id-origin', text: b.origin === 'local' ? t('id_origin_local') : (b.origin ?? '–') }),
        el('td', { text: b.negative ? t('id_negative') : t('id_positive') }),
        el('td', { class: 'num', text: String(b.match_distance) }),
        el('td', { text: b.enabled ? t('id_enabled') : t('id_disabled') }),
        el('td', { text: b.created_by }));
      if (showFeedback) tr.append(el('td', { class: 'id-feedback', text: feedbackText(b.feedback) }));
      tr.append(el('td', {}, button));
      body.append(tr);
    }
    table.append(body);
    if (!this.banks.length) section.append(el('p', { class: 'muted small', text: t('id_no_banks') }));
    else section.append(table);
    if (this.bankId) section.append(this.contentBox(manage));
    if (manage) section.append(this.createForm());
    return section;
  }

  async openBank(id) {
    this.bankId = id;
    this.content = id ? await this.api('GET', `/api/identify/banks/${id}/content?limit=100`) : [];
    this.render();
  }

  contentBox(manage) {
    const bank = this.banks.find((b) => b.id === this.bankId);
    const local = bank?.origin === 'local';
    const box = el('div', { id: 'id-content', class: 'id-content' });
    const table = el('table', { class: 'id-table' });
    table.append(el('caption', { text: `${t('id_bank_content')}: ${bank?.name ?? ''}` }));
    const head = el('tr');
    const cols = ['id_content', 'id_signal', 'id_category', 'id_series', 'id_state', 'id_added_by'];
    if (manage && local) cols.push('id_actions');
    for (const c of cols) head.append(el('th', { scope: 'col', text: t(c) }));
    table.append(el('thead', {}, head));
    const body = el('tbody');
    for (const c of this.content) {
      const state = [c.enabled ? t('id_enabled') : t('id_disabled'), c.quarantined ? t('id_quarantined') : ''].filter(Boolean).join(' · ');
      const tr = el('tr', { 'data-content': c.id },
        el('td', { class: 'mono', title: c.id, text: short(c.id) }), el('td', { text: c.signal_type }),
        el('td', { text: c.category ?? '–' }), el('td', { text: c.series ?? '–' }), el('td', { text: state }),
        el('td', { text: `${c.added_by} · ${fmtTime(c.added_at)}` }));
      if (manage && local) {
        const action = c.enabled ? 'disable' : 'enable';
        const b = el('button', { type: 'button', class: 'small-btn', id: `id-${action}-${c.id}`, 'aria-label': `${t(`id_${action}`)}: ${short(c.id)}`, text: t(`id_${action}`) });
        b.addEventListener('click', () => this.setEnabled(c.id, action).catch(() => {}));
        tr.append(el('td', {}, b));
      }
      body.append(tr);
    }
    table.append(body);
    box.append(this.content.length ? table : el('p', { class: 'muted small', text: t('id_no_content') }));
    return box;
  }

  async setEnabled(id, action) {
    await this.api('POST', `/api/identify/content/${id}/${action}`);
    await this.reload();
  }

  createForm() {
    const form = el('form', { id: 'id-create', class: 'id-create', 'aria-labelledby': 'id-create-title' });
    const name = el('input', { id: 'id-bank-name', required: true, maxlength: '120', autocomplete: 'off' });
    const distance = el('input', { id: 'id-bank-distance', type: 'number', min: '0', max: '256', value: '31' });
    const negative = el('input', { id: 'id-bank-negative', type: 'checkbox' });
    form.append(el('h4', { id: 'id-create-title', text: t('id_create') }),
      el('label', { for: 'id-bank-name', text: t('id_name') }), name,
      el('label', { for: 'id-bank-distance', text: t('id_distance') }), distance,
      el('label', { class: 'id-check' }, negative, el('span', { text: t('id_negative') })),
      el('button', { type: 'submit', class: 'primary', text: t('id_create_go') }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), match_distance: Number(distance.value), negative: negative.checked };
      this.api('POST', '/api/identify/banks', body).then(() => {
        this.status = t('id_created');
        return this.reload();
      }).catch(() => {});
    });
    return form;
  }

  // ---- quarantine ----------------------------------------------------------------------------------------------
  quarantineSection() {
    const section = el('section', { id: 'id-quarantine', class: 'id-panel', 'aria-labelledby': 'id-quarantine-title' });
    section.append(el('h3', { id: 'id-quarantine-title', text: t('id_quarantine') }),
      el('p', { class: 'small muted', text: t('id_quarantine_help') }));
    if (!this.quarantine.length) {
      section.append(el('p', { class: 'muted small', text: t('id_no_quarantine') }));
      return section;
    }
    const names = new Map(this.banks.map((b) => [b.id, b.name]));
    const list = el('ul', { class: 'id-quarantine-list' });
    for (const c of this.quarantine) {
      list.append(el('li', { 'data-content': c.id, text: `${short(c.id)} · ${names.get(c.bank_id) ?? short(c.bank_id)} · ${c.category ?? '–'} · ${c.series ?? '–'}` }));
    }
    section.append(list);
    return section;
  }
}
