// The page's two languages (Chinese by default, English on request, the choice kept in localStorage) and the formats
// that follow them: numbers, percentages and times in the browser's time zone with its offset shown. Each module keeps
// its own message table (defineMessages) so features do not share one file; a table, not an i18n framework: the
// console has a few hundred strings and two languages.
export type Lang = 'zh' | 'en';

const storageKey = 'sharpeyes.console.lang';
let current: Lang = localStorage.getItem(storageKey) === 'en' ? 'en' : 'zh';
const listeners: (() => void)[] = [];

export const lang = (): Lang => current;
export const locale = (): string => (current === 'zh' ? 'zh-CN' : 'en-GB');

export function setLang(value: Lang) {
  current = value;
  localStorage.setItem(storageKey, value);
  document.documentElement.lang = value === 'zh' ? 'zh-CN' : 'en';
  for (const listener of listeners) {
    listener();
  }
}

/** Calls back after every change of language (to re-render what a module drew itself). */
export const onLangChange = (listener: () => void) => listeners.push(listener);

type Values = Record<string, string | number>;

/**
 * A module's texts in both languages; the result formats one by key, filling {name} placeholders (numbers formatted
 * for the locale). The English table must have the same keys as the Chinese one (the type says so).
 */
export function defineMessages<const Zh extends Record<string, string>>(zh: Zh, en: Record<keyof Zh, string>) {
  const tables = { zh, en } as Record<Lang, Record<keyof Zh, string>>;
  return (key: keyof Zh, values: Values = {}): string =>
    tables[current][key].replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = values[name];
      return typeof v === 'number' ? formatNumber(v) : (v ?? '');
    });
}

export const formatNumber = (value: number, digits = 0) =>
  new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);

/** 0..1 as a percentage, one decimal by default. */
export const formatPercent = (fraction: number, digits = 1) =>
  new Intl.NumberFormat(locale(), { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(fraction);

/** The browser's UTC offset at that instant, as +08:00. */
export function offsetOf(at: Date): string {
  const minutes = -at.getTimezoneOffset();
  const sign = minutes >= 0 ? '+' : '-';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** A timestamp (RFC 3339 from the API, or a Date) in the browser's zone with the offset: 2026-12-03 16:05:09 +08:00. */
export function formatTime(value: string | Date | undefined | null, withSeconds = true): string {
  if (!value) {
    return '—';
  }
  const at = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(at.getTime())) {
    return String(value);
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}${withSeconds ? `:${pad(at.getSeconds())}` : ''}`;
  return `${date} ${time} ${offsetOf(at)}`;
}

/** The day of an instant in the browser's zone, as 2026-12-03 (file names, chart axes). */
export const formatDate = (at: Date) => formatTime(at, false).slice(0, 10);

/** How long ago, in words of the locale: "3 分钟前", "3 minutes ago". */
export function formatAgo(value: string | Date, now = new Date()): string {
  const at = typeof value === 'string' ? new Date(value) : value;
  const seconds = Math.round((at.getTime() - now.getTime()) / 1000);
  // 'auto': "刚刚" / "now" rather than "0 秒钟前".
  const words = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 5) {
    return words.format(0, 'second');
  }
  if (abs < 60) {
    return words.format(seconds, 'second');
  }
  if (abs < 3600) {
    return words.format(Math.round(seconds / 60), 'minute');
  }
  if (abs < 86400) {
    return words.format(Math.round(seconds / 3600), 'hour');
  }
  return words.format(Math.round(seconds / 86400), 'day');
}
