import { drawCounty } from './ol-map';
import { fail } from './common';

drawCounty(true).catch(fail);
