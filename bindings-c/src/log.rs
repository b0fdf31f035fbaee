//! Logging: routes core's log events to a C callback. The levels are core's one order (OFF=0 to
//! TRACE=5); core parses names and checks numbers, and is the only reader of `HEADWATER_LOG`.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use hw::logging::{self, Level};

use crate::error::hw_error;
use crate::ffi::{c_string, guard, guard_out, str_arg, Ctx};

/// Log levels, the same order in every language: `HW_LOG_LEVEL_OFF` (nothing) to
/// `HW_LOG_LEVEL_TRACE` (everything).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hw_log_level {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl hw_log_level {
    fn of(level: Level) -> hw_log_level {
        use hw_log_level::*;
        // The variants in core's number order (0 = OFF); the test below checks it.
        [Off, Error, Warn, Info, Debug, Trace][level.number() as usize]
    }
}

/// Log callback: `level` is the event's level (`HW_LOG_LEVEL_ERROR` to `HW_LOG_LEVEL_TRACE`);
/// `target` (the module) and `message` are NUL-terminated, owned by the library and valid during
/// the call only. Called from any thread, including library threads.
pub type hw_log_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        level: hw_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// Routes the library's log events at `max_level` (an `hw_log_level` value, 0 to 5) and more severe
/// to `cb` with `ctx`; `HW_LOG_LEVEL_OFF` forwards nothing. Another number is an
/// `HW_ERROR_KIND_INVALID_ARGUMENT` error. NULL `cb` restores the default: warnings and errors to
/// stderr, or the level the `HEADWATER_LOG` variable names. Process-wide; a later call replaces the
/// callback.
#[no_mangle]
pub unsafe extern "C" fn hw_set_log_callback(
    cb: hw_log_cb,
    ctx: *mut c_void,
    max_level: u32,
) -> *mut hw_error {
    guard(|| {
        let level = Level::from_number(max_level.into())?;
        logging::install();
        let Some(cb) = cb else {
            logging::clear_sink();
            return Ok(());
        };
        // The header says the callback is called from any thread.
        let ctx = Ctx(ctx);
        logging::set_sink(
            level,
            Arc::new(move |lvl: tracing::Level, target: &str, msg: &str| {
                let (t, m) = (c_string(target), c_string(msg));
                let ctx = &ctx; // capture the whole (Send + Sync) wrapper, not its raw field
                let level = hw_log_level::of(lvl.into());
                // SAFETY: the C caller registered this callback and context for exactly this use.
                unsafe { cb(ctx.0, level, t.as_ptr(), m.as_ptr()) }
            }),
        );
        Ok(())
    })
}

/// The level named `name` (`"off"`, `"error"`, `"warn"`, `"info"`, `"debug"` or `"trace"`, in any
/// case), written to `*out`: for levels read from configuration, as `HEADWATER_LOG` is. Another name
/// is an `HW_ERROR_KIND_CONFIG` error naming `log_level`. `name` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_log_level_parse(
    name: *const c_char,
    out: *mut hw_log_level,
) -> *mut hw_error {
    guard_out(out, || {
        Ok(hw_log_level::of(logging::parse_level(str_arg(
            name, "name",
        )?)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_has_core_numbers() {
        for l in Level::ALL {
            assert_eq!(hw_log_level::of(l) as i32, l.number());
        }
    }
}
