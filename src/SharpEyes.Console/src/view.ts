// What main.ts hands each view when it starts it.
import type { BaseMap } from './basemap';
import type { Session } from './session';

export interface ViewContext {
  base: BaseMap;
  session: Session;
}
