/* Prints the V4L2 struct sizes, member offsets and ioctl numbers of the system's linux/videodev2.h as JSON, for
 * comparison with src/camera/layout.ts (test/camera/layout.test.ts builds this natively and cross-compiled for
 * armhf (32-bit and 64-bit time_t) and arm64, running the foreign ones under qemu-user). */
#include <stdio.h>
#include <stddef.h>
#include <sys/time.h>
#include <linux/videodev2.h>

static int first;
#define BEGIN(name, type) printf("%s\"%s\":{\"size\":%zu,\"off\":{", first++ ? "," : "", name, sizeof(type)); { int f = 0;
#define OFF(type, m) printf("%s\"%s\":%zu", f++ ? "," : "", #m, offsetof(type, m));
#define END } printf("}}");
#define IOC(n) printf("%s\"%s\":%lu", f++ ? "," : "", #n, (unsigned long)VIDIOC_##n);

int main(void) {
  printf("{\"time_t\":%zu,\"pointer\":%zu,", sizeof(time_t), sizeof(void *));
  first = 0;
  printf("\"structs\":{");
  BEGIN("capability", struct v4l2_capability)
  OFF(struct v4l2_capability, driver) OFF(struct v4l2_capability, card) OFF(struct v4l2_capability, bus_info)
  OFF(struct v4l2_capability, version) OFF(struct v4l2_capability, capabilities)
  OFF(struct v4l2_capability, device_caps) OFF(struct v4l2_capability, reserved)
  END
  BEGIN("fmtdesc", struct v4l2_fmtdesc)
  OFF(struct v4l2_fmtdesc, index) OFF(struct v4l2_fmtdesc, type) OFF(struct v4l2_fmtdesc, flags)
  OFF(struct v4l2_fmtdesc, description) OFF(struct v4l2_fmtdesc, pixelformat) OFF(struct v4l2_fmtdesc, mbus_code)
  OFF(struct v4l2_fmtdesc, reserved)
  END
  BEGIN("format", struct v4l2_format)
  OFF(struct v4l2_format, type) OFF(struct v4l2_format, fmt) OFF(struct v4l2_format, fmt.pix)
  OFF(struct v4l2_format, fmt.pix.width) OFF(struct v4l2_format, fmt.pix.height)
  OFF(struct v4l2_format, fmt.pix.pixelformat) OFF(struct v4l2_format, fmt.pix.field)
  OFF(struct v4l2_format, fmt.pix.bytesperline) OFF(struct v4l2_format, fmt.pix.sizeimage)
  OFF(struct v4l2_format, fmt.pix.colorspace) OFF(struct v4l2_format, fmt.pix.priv)
  OFF(struct v4l2_format, fmt.pix.flags) OFF(struct v4l2_format, fmt.pix.ycbcr_enc)
  OFF(struct v4l2_format, fmt.pix.quantization) OFF(struct v4l2_format, fmt.pix.xfer_func)
  OFF(struct v4l2_format, fmt.win.clips) OFF(struct v4l2_format, fmt.win.bitmap)
  END
  BEGIN("requestbuffers", struct v4l2_requestbuffers)
  OFF(struct v4l2_requestbuffers, count) OFF(struct v4l2_requestbuffers, type)
  OFF(struct v4l2_requestbuffers, memory) OFF(struct v4l2_requestbuffers, capabilities)
  OFF(struct v4l2_requestbuffers, flags)
  END
  BEGIN("buffer", struct v4l2_buffer)
  OFF(struct v4l2_buffer, index) OFF(struct v4l2_buffer, type) OFF(struct v4l2_buffer, bytesused)
  OFF(struct v4l2_buffer, flags) OFF(struct v4l2_buffer, field) OFF(struct v4l2_buffer, timestamp)
  OFF(struct v4l2_buffer, timestamp.tv_sec) OFF(struct v4l2_buffer, timestamp.tv_usec)
  OFF(struct v4l2_buffer, timecode) OFF(struct v4l2_buffer, sequence) OFF(struct v4l2_buffer, memory)
  OFF(struct v4l2_buffer, m) OFF(struct v4l2_buffer, m.offset) OFF(struct v4l2_buffer, m.userptr)
  OFF(struct v4l2_buffer, m.planes) OFF(struct v4l2_buffer, m.fd) OFF(struct v4l2_buffer, length)
  OFF(struct v4l2_buffer, reserved2) OFF(struct v4l2_buffer, request_fd)
  END
  printf("},\"ioctl\":{");
  {
    int f = 0;
    IOC(QUERYCAP) IOC(ENUM_FMT) IOC(G_FMT) IOC(S_FMT) IOC(REQBUFS) IOC(QUERYBUF) IOC(QBUF) IOC(DQBUF)
    IOC(STREAMON) IOC(STREAMOFF)
  }
  printf("}}\n");
  return 0;
}
