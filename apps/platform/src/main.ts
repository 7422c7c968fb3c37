import 'source-map-support/register';
import { bootstrap } from './bootstrap';

bootstrap();
