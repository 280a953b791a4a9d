import { drawCounty } from './ol-map';
import { fail } from './common';

drawCounty(false).catch(fail);
