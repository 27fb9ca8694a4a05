export { startTestLibvirtd, startSessionLibvirtd, libvirtAvailable, libvirtUsable, type TestLibvirtd, type SessionLibvirtd } from './libvirtd.ts';
