// What the inbox shows of an incident (the gateway's Incident and Alarm as protobuf JSON: default values are left
// out, enums are names, times RFC 3339) and the two things an operator does with one: acknowledge it (an optional
// note) and close it (a reason, required). Both are POSTs with the CSRF header (api.ts); the gateway's access table
// refuses planners whatever the page shows, and its error message is shown where the operator clicked.
import { postJson } from './api';
import { text } from './inbox-text';
import { can } from './session';
import { el } from './sidebar';

export interface RegionCodes {
  gridCode?: string;
  villageCode?: string;
  townshipCode?: string;
  countyCode?: string;
}

export interface KeySiteRef {
  code: string;
  name: string;
  category?: string;
  priority?: number;
  distanceM?: number;
}

export interface GeoPoint {
  lon: number;
  lat: number;
}

export interface Alarm {
  vendorId?: string;
  eventId: string;
  deviceId: string;
  occurredAt?: string;
  receivedAt?: string;
  priority?: number;
  method?: number;
  type?: number;
  description?: string;
  position?: GeoPoint;
  keySites?: KeySiteRef[];
  cameraIds?: string[];
}

export interface Incident {
  incidentId: string;
  state?: 'INCIDENT_STATE_OPEN' | 'INCIDENT_STATE_CLOSED';
  typeClass?: string;
  highestPriority?: number;
  region?: RegionCodes;
  keySites?: KeySiteRef[];
  cameraIds?: string[];
  alarmCount?: number;
  alarms?: Alarm[];
  openedAt?: string;
  updatedAt?: string;
  closedAt?: string;
  closeReason?: string;
  position?: GeoPoint;
  acknowledgedAt?: string;
  acknowledgedBy?: { keyId?: string; role?: string };
  acknowledgeNote?: string;
}

export const isOpen = (incident: Incident) => incident.state !== 'INCIDENT_STATE_CLOSED';
export const isAcknowledged = (incident: Incident) => !!incident.acknowledgedAt;
export const priorityOf = (incident: Incident) => incident.highestPriority || 4;
/** Open, priority 1 and nobody on it yet: what flashes, flags the tab and beeps. */
export const isUrgent = (incident: Incident) => isOpen(incident) && priorityOf(incident) === 1 && !isAcknowledged(incident);

const reasons = ['reasonFalse', 'reasonHandled', 'reasonDuplicate', 'reasonTest', 'reasonOther'] as const;

function button(label: string, className: string, onClick: () => void) {
  const b = el('button', className, label);
  b.type = 'button';
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    onClick();
  });
  return b;
}

/**
 * The acknowledge and close controls of an incident (none for a closed one, none for a role that may not handle
 * incidents); `applied` gets the incident the gateway answered.
 */
export function actions(incident: Incident, applied: (incident: Incident) => void): HTMLElement {
  const box = el('div', 'inbox-actions');
  box.addEventListener('click', (e) => e.stopPropagation());
  if (!isOpen(incident) || !can.handleIncidents()) {
    return box;
  }
  const id = incident.incidentId;
  const error = el('p', 'inbox-error');
  error.setAttribute('role', 'alert');
  const buttons = el('div', 'inbox-buttons');

  const submit = async (form: HTMLFormElement, path: string, body: unknown) => {
    const controls = [...form.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input')];
    controls.forEach((c) => (c.disabled = true));
    error.textContent = text('working');
    try {
      const answer = await postJson<Incident>(`/api/v1/incidents/${encodeURIComponent(id)}:${path}`, body);
      error.textContent = '';
      applied(answer);
    } catch (e) {
      error.textContent = text('failed', { message: (e as Error).message });
      controls.forEach((c) => (c.disabled = false));
    }
  };

  const showForm = (form: HTMLFormElement) => {
    buttons.hidden = true;
    error.textContent = '';
    box.insertBefore(form, error);
    form.querySelector<HTMLInputElement>('input:not([type=radio])')?.focus();
  };
  const cancel = (form: HTMLFormElement) => button(text('cancel'), 'inbox-cancel', () => {
    form.remove();
    error.textContent = '';
    buttons.hidden = false;
  });

  if (!isAcknowledged(incident)) {
    buttons.append(button(text('acknowledge'), 'inbox-acknowledge', () => {
      const form = el('form', 'inbox-form inbox-acknowledge-form');
      const note = el('input');
      note.type = 'text';
      note.name = 'note';
      note.maxLength = 512;
      note.placeholder = text('note');
      note.setAttribute('aria-label', text('note'));
      const ok = el('button', 'inbox-confirm', text('confirmAcknowledge'));
      ok.type = 'submit';
      form.append(note, el('div', 'inbox-form-buttons', ok, cancel(form)));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        void submit(form, 'acknowledge', { note: note.value.trim() });
      });
      showForm(form);
    }));
  }
  buttons.append(button(text('close'), 'inbox-close', () => {
    const form = el('form', 'inbox-form inbox-close-form');
    const legend = el('legend', undefined, text('reason'));
    const choices = el('fieldset', 'inbox-reasons', legend);
    for (const reason of reasons) {
      const radio = el('input');
      radio.type = 'radio';
      radio.name = 'reason';
      radio.value = reason;
      choices.append(el('label', undefined, radio, text(reason)));
    }
    const detail = el('input');
    detail.type = 'text';
    detail.name = 'detail';
    detail.maxLength = 400;
    detail.placeholder = text('reasonDetail');
    detail.setAttribute('aria-label', text('reasonDetail'));
    const ok = el('button', 'inbox-confirm', text('confirmClose'));
    ok.type = 'submit';
    form.append(choices, detail, el('div', 'inbox-form-buttons', ok, cancel(form)));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const chosen = form.querySelector<HTMLInputElement>('input[name=reason]:checked')?.value as (typeof reasons)[number] | undefined;
      const words = detail.value.trim();
      if (!chosen && !words) {
        error.textContent = text('reasonRequired');
        return;
      }
      // "False alarm: patrol found nothing"; the free text alone for "Other"; the choice alone without text.
      const label = chosen && chosen !== 'reasonOther' ? text(chosen) : '';
      const reason = label && words ? `${label}: ${words}` : label || words || text('reasonOther');
      void submit(form, 'close', { reason });
    });
    showForm(form);
  }));
  box.append(buttons, error);
  return box;
}
