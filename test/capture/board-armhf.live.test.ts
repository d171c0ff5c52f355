// Issue #15 part 1 on an emulated armhf board: Debian's armhf kernel and static BusyBox under qemu
// (TCG, -M virt), the capture script run there, its archive analysed here (test/board/).
// Skips with the reason when qemu, dpkg's armhf architecture or the packages are missing.
import { boardTests } from '../board/board-tests.js';

boardTests('armhf');
