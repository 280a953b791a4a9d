// Every text the page shows, in Chinese (the default) and English. A table, not an i18n framework: the console has
// a few dozen strings and two languages.
export type Lang = 'zh' | 'en';

export const messages = {
  zh: {
    title: 'SharpEyes 雪亮工程网关 · 控制台',
    layers: '图层',
    legend: '图例',
    county: '县界',
    townships: '乡镇',
    villages: '村（社区）',
    grids: '网格',
    keySites: '重点部位',
    keySiteArea: '重点部位（区域）',
    keySitePoint: '重点部位（点位）',
    language: 'English',
    languageLabel: '切换到英文',
    loading: '正在加载区域……',
    loaded: '已显示 {regions} 个区域、{sites} 个重点部位',
    failed: '区域数据加载失败：{error}',
    source: '演示数据：高邑县（河北省石家庄市）的县界、乡镇、村和网格，构建时打包。实时数据将通过 JSON API 接入。',
  },
  en: {
    title: 'SharpEyes gateway · console',
    layers: 'Layers',
    legend: 'Legend',
    county: 'County border',
    townships: 'Townships',
    villages: 'Villages',
    grids: 'Grids',
    keySites: 'Key sites',
    keySiteArea: 'Key site (area)',
    keySitePoint: 'Key site (point)',
    language: '中文',
    languageLabel: 'Switch to Chinese',
    loading: 'Loading regions…',
    loaded: '{regions} regions and {sites} key sites shown',
    failed: 'Could not load the regions: {error}',
    source: 'Demo data: the border, townships, villages and grids of Gaoyi County (Shijiazhuang, Hebei), bundled at build time. Live data comes with the JSON API.',
  },
} satisfies Record<Lang, Record<string, string>>;

export type MessageKey = keyof (typeof messages)['zh'];

export function format(lang: Lang, key: MessageKey, values: Record<string, string | number> = {}): string {
  const numbers = new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en');
  return messages[lang][key].replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = values[name];
    return typeof v === 'number' ? numbers.format(v) : (v ?? '');
  });
}
