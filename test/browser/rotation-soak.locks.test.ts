import { rotationSoak } from './rotation-soak.suite.ts';

rotationSoak(true);
