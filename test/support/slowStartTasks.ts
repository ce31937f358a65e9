/** `echo` of workerTasks from a module that takes a second to load, as a worker loading many modules on a busy machine would. */
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
export { echo } from './workerTasks';
