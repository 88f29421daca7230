//! The upscaler as the frame pipeline's 1 -> 1 step: one image, a folder or a video go through
//! [`prism_media::map_media`] with it.

use std::sync::atomic::AtomicBool;

use image::DynamicImage;
use prism_media::FrameMap;

use crate::error::Error;
use crate::upscaler::{Control, Upscaler};

impl FrameMap for Upscaler {
    type Error = Error;

    fn output_size(&self, width: u32, height: u32) -> Result<(u32, u32), Error> {
        Ok(self.plan(width, height)?.1)
    }

    fn map(
        &mut self,
        frame: &DynamicImage,
        cancel: Option<&AtomicBool>,
    ) -> Result<DynamicImage, Error> {
        let mut control = Control {
            progress: None,
            cancel,
        };
        self.upscale_with(frame, &mut control)
    }
}
