// The shell's own texts (the header, the status line); each feature module keeps its own table (i18n.ts).
import { defineMessages } from './i18n';

export const text = defineMessages(
  {
    title: 'SharpEyes 雪亮工程网关 · 控制台',
    language: 'English',
    languageLabel: '切换到英文',
    loading: '正在加载区域……',
    loaded: '已显示 {regions} 个区域、{sites} 个重点部位',
    failed: '加载失败：{error}',
    noGeography: '网关尚未导入区域：请规划人员或管理员导入网格和重点部位（见规划指南）。',
    layersTab: '图层',
    source: '地图底图为本县区域边界，所有数据来自本网关，不访问外部网络。',
  },
  {
    title: 'SharpEyes gateway · console',
    language: '中文',
    languageLabel: 'Switch to Chinese',
    loading: 'Loading regions…',
    loaded: '{regions} regions and {sites} key sites shown',
    failed: 'Could not load: {error}',
    noGeography: 'No regions are imported yet: a planner or admin imports grids and key sites (see the planner guide).',
    layersTab: 'Layers',
    source: "The base map is the county's own region borders; every piece of data comes from this gateway, nothing from another network.",
  },
);
